//! The HTTP side's server: our own accept loop over hyper, so that every
//! connection is bounded (OWASP API4): a client has `IHF_HTTP_HEADER_TIMEOUT`
//! to send a request's headers, `IHF_HTTP_BODY_TIMEOUT` to send its body, and
//! an idle keep-alive connection is closed after `IHF_HTTP_IDLE_TIMEOUT`. At
//! most `IHF_HTTP_MAX_CONNECTIONS` are open: a new connection at the cap sheds
//! the oldest one that is idle or still sending its request, so a flood of
//! idle or slow sockets (from any address, the prober's own included) cannot
//! keep `/healthz` or real clients out. A connection whose request is being
//! handled is never shed; if all are, the new one is closed instead.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

/// The server's limits (from `Config`).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub header_timeout: Duration,
    pub body_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
}

/// Where a connection is: waiting for a request (new or idle), receiving a
/// request's headers or its body, or being answered.
const WAITING: u8 = 0;
const HEADERS: u8 = 1;
const RECEIVING: u8 = 2;
const ANSWERING: u8 = 3;

/// One open connection, as the registry and its own task see it.
struct Slot {
    state: AtomicU8,
    /// Milliseconds since the server started at the last state change.
    since_ms: AtomicU64,
    /// Requests begun on this connection (0: its first is still to come).
    requests: AtomicU64,
    changed: tokio::sync::Notify,
    /// Cancelled to close the connection at once.
    shed: CancellationToken,
}

impl Slot {
    fn set(&self, state: u8, epoch: Instant) {
        self.state.store(state, Ordering::Release);
        self.since_ms
            .store(epoch.elapsed().as_millis() as u64, Ordering::Release);
        self.changed.notify_one();
    }

    fn sheddable(&self) -> bool {
        self.state.load(Ordering::Acquire) != ANSWERING
    }

    /// When the connection has waited too long: for the first request's
    /// headers `header_timeout` from the connect, between requests
    /// `idle_timeout`, for a later request's headers `header_timeout` from
    /// its first byte. `None` while a request is under way (the body has its
    /// own deadline).
    fn deadline(&self, limits: &Limits, epoch: Instant) -> Option<tokio::time::Instant> {
        let patience = match self.state.load(Ordering::Acquire) {
            HEADERS => limits.header_timeout,
            WAITING if self.requests.load(Ordering::Acquire) == 0 => limits.header_timeout,
            WAITING => limits.idle_timeout,
            _ => return None,
        };
        let since = epoch + Duration::from_millis(self.since_ms.load(Ordering::Acquire));
        Some((since + patience).into())
    }

    /// Bytes arrived: on an idle connection, a new request's headers begin.
    fn bytes_arrived(&self, epoch: Instant) {
        if self.requests.load(Ordering::Acquire) > 0
            && self
                .state
                .compare_exchange(WAITING, HEADERS, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            self.set(HEADERS, epoch);
        }
    }
}

/// Every open connection.
struct Registry {
    epoch: Instant,
    next: AtomicU64,
    slots: Mutex<HashMap<u64, Arc<Slot>>>,
}

impl Registry {
    fn open(&self) -> (u64, Arc<Slot>) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let slot = Arc::new(Slot {
            state: AtomicU8::new(WAITING),
            since_ms: AtomicU64::new(self.epoch.elapsed().as_millis() as u64),
            requests: AtomicU64::new(0),
            changed: tokio::sync::Notify::new(),
            shed: CancellationToken::new(),
        });
        self.slots
            .lock()
            .expect("connection registry lock")
            .insert(id, slot.clone());
        (id, slot)
    }

    fn close(&self, id: u64) {
        self.slots
            .lock()
            .expect("connection registry lock")
            .remove(&id);
    }

    /// Makes room for one more connection if at `max`: sheds the oldest
    /// idle or incomplete one. False if every connection is being answered.
    fn make_room(&self, max: usize) -> bool {
        let mut slots = self.slots.lock().expect("connection registry lock");
        if slots.len() < max {
            return true;
        }
        let oldest = slots
            .iter()
            .filter(|(_, s)| s.sheddable())
            .min_by_key(|(id, s)| (s.since_ms.load(Ordering::Acquire), **id))
            .map(|(id, _)| *id);
        match oldest.and_then(|id| slots.remove(&id)) {
            Some(slot) => {
                slot.shed.cancel();
                true
            }
            None => false,
        }
    }
}

/// Serves `router` on `listener` until `shutdown`; then stops accepting,
/// lets requests under way finish, and returns when every connection closed.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: CancellationToken,
) {
    let registry = Arc::new(Registry {
        epoch: Instant::now(),
        next: AtomicU64::new(0),
        slots: Mutex::default(),
    });
    let tracker = TaskTracker::new();
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of descriptors, most likely: shedding frees some soon.
                tracing::warn!(error = %e, "cannot accept a connection");
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        if !registry.make_room(limits.max_connections) {
            drop(stream);
            continue;
        }
        let _ = stream.set_nodelay(true);
        let (id, slot) = registry.open();
        tracker.spawn(connection(
            stream,
            router.clone(),
            limits,
            registry.clone(),
            id,
            slot,
            shutdown.clone(),
        ));
    }
    tracker.close();
    tracker.wait().await;
}

/// Drives one connection until it ends, is shed, or times out waiting.
async fn connection(
    stream: tokio::net::TcpStream,
    router: Router,
    limits: Limits,
    registry: Arc<Registry>,
    id: u64,
    slot: Arc<Slot>,
    shutdown: CancellationToken,
) {
    let epoch = registry.epoch;
    let service = {
        let slot = slot.clone();
        hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            let slot = slot.clone();
            let router = router.clone();
            async move {
                slot.requests.fetch_add(1, Ordering::AcqRel);
                let receiving = !request.body().is_end_stream();
                slot.set(if receiving { RECEIVING } else { ANSWERING }, epoch);
                let request = request
                    .map(|body| TimedBody::new(body, limits.body_timeout, slot.clone(), epoch));
                let response = router.oneshot(request).await;
                slot.set(WAITING, epoch);
                response
            }
        })
    };
    // hyper's own header timeout would start as soon as a response is sent,
    // cutting idle keep-alive connections at the header timeout; the slot's
    // deadlines keep the two apart.
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(None)
        .keep_alive(true);
    let io = WatchedIo {
        inner: stream,
        slot: slot.clone(),
        epoch,
    };
    let conn = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    let mut draining = false;
    loop {
        let deadline = slot.deadline(&limits, epoch);
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                break;
            }
            _ = slot.shed.cancelled() => break,
            _ = shutdown.cancelled(), if !draining => {
                conn.as_mut().graceful_shutdown();
                draining = true;
            }
            _ = slot.changed.notified() => {}
            _ = sleep_until(deadline) => {
                if slot.deadline(&limits, epoch).is_some_and(|d| d <= tokio::time::Instant::now()) {
                    break;
                }
            }
        }
    }
    registry.close(id);
}

/// The socket, telling its slot when bytes arrive (see [`Slot::bytes_arrived`]).
struct WatchedIo {
    inner: tokio::net::TcpStream,
    slot: Arc<Slot>,
    epoch: Instant,
}

impl tokio::io::AsyncRead for WatchedIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.slot.bytes_arrived(this.epoch);
        }
        polled
    }
}

impl tokio::io::AsyncWrite for WatchedIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// A request body that must arrive within the body timeout; when it does
/// not, the connection is closed (the client is too slow, or stalling).
struct TimedBody {
    inner: Incoming,
    deadline: Pin<Box<tokio::time::Sleep>>,
    slot: Arc<Slot>,
    epoch: Instant,
}

impl TimedBody {
    fn new(inner: Incoming, timeout: Duration, slot: Arc<Slot>, epoch: Instant) -> TimedBody {
        TimedBody {
            inner,
            deadline: Box::pin(tokio::time::sleep(timeout)),
            slot,
            epoch,
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within IHF_HTTP_BODY_TIMEOUT")]
struct BodyTimeout;

impl Body for TimedBody {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                if frame.is_none() || this.inner.is_end_stream() {
                    this.slot.set(ANSWERING, this.epoch);
                }
                Poll::Ready(frame.map(|f| f.map_err(Into::into)))
            }
            Poll::Pending => match this.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    this.slot.shed.cancel();
                    Poll::Ready(Some(Err(BodyTimeout.into())))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
