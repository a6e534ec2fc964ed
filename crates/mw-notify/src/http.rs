//! HTTP(S) POSTs for `http`/`https` topic subscriptions and webhook hooks.
//!
//! A blocking [`ureq`] agent with rustls: connect timeout 5 s, 10 s for the
//! whole request, no redirects followed (as SNS), no proxy from the
//! environment. Any 2xx answer is a delivery; anything else is a failure
//! whose text becomes the delivery's `last_error`.

use std::io::Read;
use std::time::Duration;

/// Longest response body excerpt kept in an error.
const MAX_ERROR_BODY: u64 = 256;

/// Shared HTTP client; cheap to clone.
#[derive(Clone)]
pub(crate) struct HttpClient {
    agent: ureq::Agent,
}

/// One POST to make.
pub(crate) struct Post<'a> {
    pub url: &'a str,
    pub content_type: &'a str,
    pub headers: &'a [(&'a str, &'a str)],
    pub body: &'a str,
}

impl HttpClient {
    pub fn new() -> HttpClient {
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            .redirects(0)
            .user_agent("modelwatch-notify")
            .build();
        HttpClient { agent }
    }

    /// POSTs once; `Err` holds a lowercase description of the failure.
    pub fn post(&self, post: &Post<'_>) -> Result<(), String> {
        let mut req = self
            .agent
            .post(post.url)
            .set("Content-Type", post.content_type);
        for (name, value) in post.headers {
            req = req.set(name, value);
        }
        match req.send_string(post.body) {
            Ok(resp) if (200..300).contains(&resp.status()) => Ok(()),
            Ok(resp) => Err(status_error(resp)),
            Err(ureq::Error::Status(_, resp)) => Err(status_error(resp)),
            Err(ureq::Error::Transport(t)) => Err(format!("http request failed: {t}")),
        }
    }
}

fn status_error(resp: ureq::Response) -> String {
    let status = resp.status();
    let mut body = String::new();
    // The body is only decoration for the error; a read failure leaves it empty.
    let _ = resp
        .into_reader()
        .take(MAX_ERROR_BODY)
        .read_to_string(&mut body);
    let body = body.trim();
    if body.is_empty() {
        format!("http status {status}")
    } else {
        format!("http status {status}: {body}")
    }
}
