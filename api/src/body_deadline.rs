//! Slow clients: a request body must keep arriving at a minimum average rate, or the request
//! is answered `408` and the connection closed.
//!
//! actix-web bounds the time to receive a request's *head* (`client_request_timeout`, set in
//! `startup`), but nothing bounds its *body*: a client trickling one byte a second would hold a
//! worker's connection for as long as the body limit allows (hours for 64 KiB, days for an
//! import). The rule here is Apache's `mod_reqtimeout` (`body=10,MinRate=1024`): from the
//! moment the server starts reading the body, the client has [`BODY_GRACE`], plus one second
//! for every [`BODY_MIN_RATE`] bytes it has sent. A phone on a poor 2G link (a few KiB/s), or
//! one that stalls for a while and catches up, stays well inside it; a trickle is cut after
//! about ten seconds.

use std::{
    cell::Cell,
    pin::Pin,
    rc::Rc,
    task::{Context, Poll},
    time::Duration,
};

use actix_web::{
    Error, HttpMessage,
    body::{BoxBody, MessageBody},
    dev::{Payload, ServiceRequest, ServiceResponse},
    error::PayloadError,
    http::{ConnectionType, StatusCode},
    middleware::Next,
    web::Bytes,
};
use futures_util::Stream;
use tokio::time::{Instant, Sleep};

use crate::error::problem_for_status;

/// Time a body gets before the rate counts.
pub const BODY_GRACE: Duration = Duration::from_secs(10);
/// Bytes per second a body must average after the grace time.
pub const BODY_MIN_RATE: u64 = 1024;

/// Wraps the request body (if any) in the deadline, and answers `408 request_timeout` with
/// `Connection: close` when it was missed, whatever the handler made of the cut-off body.
pub async fn limit_body_time(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let missed = Rc::new(Cell::new(false));
    match req.take_payload() {
        Payload::None => {}
        payload => {
            let timed: Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>> =
                Box::pin(TimedBody {
                    inner: payload,
                    started: None,
                    received: 0,
                    sleep: None,
                    missed: Rc::clone(&missed),
                    done: false,
                });
            req.set_payload(Payload::from(timed));
        }
    }
    let response = next.call(req).await?.map_into_boxed_body();
    if !missed.get() {
        return Ok(response);
    }
    tracing::info!("request body arrived too slowly; answered 408");
    let (request, _) = response.into_parts();
    let mut timeout = problem_for_status(StatusCode::REQUEST_TIMEOUT).into_response();
    timeout
        .head_mut()
        .set_connection_type(ConnectionType::Close);
    Ok(ServiceResponse::new(request, timeout))
}

/// The body stream with the deadline: `grace + received / rate` after the first read.
struct TimedBody {
    inner: Payload,
    started: Option<Instant>,
    received: u64,
    sleep: Option<Pin<Box<Sleep>>>,
    missed: Rc<Cell<bool>>,
    done: bool,
}

impl TimedBody {
    fn deadline(&self, started: Instant) -> Instant {
        started + BODY_GRACE + Duration::from_millis(self.received * 1000 / BODY_MIN_RATE)
    }
}

impl Stream for TimedBody {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        // The clock starts when the server first reads, so time the server spent before
        // reading (waiting for the database, say) is not held against the client.
        let started = *this.started.get_or_insert_with(Instant::now);
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                this.received = this.received.saturating_add(chunk.len() as u64);
                this.sleep = None;
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(other) => {
                this.done = true;
                Poll::Ready(other)
            }
            Poll::Pending => {
                let deadline = this.deadline(started);
                let sleep = this
                    .sleep
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                if sleep.deadline() != deadline {
                    sleep.as_mut().reset(deadline);
                }
                match sleep.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        this.done = true;
                        this.missed.set(true);
                        Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
                            std::io::ErrorKind::TimedOut,
                            "request body arrived too slowly",
                        )))))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deadline_grows_by_a_second_per_kibibyte_received() {
        let started = Instant::now();
        let mut body = TimedBody {
            inner: Payload::None,
            started: Some(started),
            received: 0,
            sleep: None,
            missed: Rc::new(Cell::new(false)),
            done: false,
        };
        assert_eq!(body.deadline(started), started + BODY_GRACE);
        body.received = 20 * 1024;
        assert_eq!(
            body.deadline(started),
            started + BODY_GRACE + Duration::from_secs(20)
        );
    }
}
