#!/usr/bin/env bash
# CI: each workspace crate's `rust-version` must be exactly what the committed
# Cargo.lock needs: the highest `rust_version` among the locked packages it
# depends on (transitively, dev-dependencies included, every platform), as
# `cargo metadata` reports them. Too low and the declared Rust cannot build the
# lockfile; too high and it turns users away for nothing. After `cargo update`,
# set the new value this prints.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo metadata --format-version 1 --locked | python3 /dev/fd/3 3<<'PY'
import json, sys

meta = json.load(sys.stdin)
packages = {p["id"]: p for p in meta["packages"]}
nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
members = set(meta["workspace_members"])
required = {"ihf-webhooks", "ihf-sdk"}  # the crates others build
version = lambda text: (tuple(int(x) for x in text.split(".")) + (0, 0))[:3]
failed = False
for member in sorted(members):
    package = packages[member]
    declared = package.get("rust_version")
    if declared is None:
        if package["name"] in required:
            print(f"{package['name']}: no rust-version in {package['manifest_path']}")
            failed = True
        continue
    seen, stack = set(), [member]
    while stack:
        for dep in nodes[stack.pop()]["deps"]:
            if dep["pkg"] not in seen:
                seen.add(dep["pkg"])
                stack.append(dep["pkg"])
    needed = max(
        (version(packages[i]["rust_version"]), packages[i]["name"], packages[i]["version"])
        for i in seen - members
        if packages[i].get("rust_version")
    )
    needed_text = ".".join(map(str, needed[0][:2] if needed[0][2] == 0 else needed[0]))
    if version(declared) != needed[0]:
        print(f"{package['name']}: rust-version = \"{declared}\", but the lockfile needs "
              f"{needed_text} ({needed[1]} {needed[2]}): set rust-version = \"{needed_text}\"")
        failed = True
    else:
        print(f"{package['name']}: rust-version {declared} = what {needed[1]} {needed[2]} needs")
sys.exit(1 if failed else 0)
PY
