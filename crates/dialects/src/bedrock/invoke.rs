//! `invoke-with-response-stream` for Anthropic-format bodies: Anthropic's stream events,
//! each wrapped in a `chunk` frame as `{"bytes": base64(event JSON)}`, as Claude on Bedrock
//! streams them; an error becomes a `modelStreamErrorException` frame.

use base64::Engine as _;
use bytes::BytesMut;
use switchyard_types::{StreamEvent, Usage};

use super::eventstream::{write_event, write_exception};
use crate::anthropic::MessageStreamEncoder;
use crate::error::GatewayError;

#[derive(Debug)]
pub struct InvokeStreamEncoder {
    inner: MessageStreamEncoder,
    scratch: BytesMut,
}

impl InvokeStreamEncoder {
    pub fn new(model: String) -> Self {
        InvokeStreamEncoder {
            inner: MessageStreamEncoder::new(String::new(), model),
            scratch: BytesMut::new(),
        }
    }

    pub fn encode(&mut self, event: StreamEvent, out: &mut BytesMut) {
        self.inner.encode(event, &mut self.scratch);
        self.wrap(out);
    }

    pub fn fail(&mut self, err: &GatewayError, out: &mut BytesMut) {
        self.inner.fail(err, &mut self.scratch);
        self.wrap(out);
    }

    pub fn finish(&mut self, out: &mut BytesMut) {
        self.inner.finish(&mut self.scratch);
        self.wrap(out);
    }

    pub fn usage(&self) -> Option<Usage> {
        self.inner.usage()
    }

    /// Moves the SSE events the Anthropic encoder wrote into frames.
    fn wrap(&mut self, out: &mut BytesMut) {
        let text = String::from_utf8_lossy(&self.scratch).into_owned();
        self.scratch.clear();
        for event in text.split("\n\n") {
            let Some(data) = event.lines().find_map(|l| l.strip_prefix("data: ")) else {
                continue;
            };
            if event.starts_with("event: error") {
                let message = serde_json::from_str::<serde_json::Value>(data)
                    .ok()
                    .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
                    .unwrap_or_else(|| data.to_owned());
                let payload = serde_json::json!({"message": message});
                write_exception(
                    "modelStreamErrorException",
                    payload.to_string().as_bytes(),
                    out,
                );
            } else {
                let encoded = base64::engine::general_purpose::STANDARD.encode(data);
                let payload = serde_json::json!({"bytes": encoded});
                write_event("chunk", payload.to_string().as_bytes(), out);
            }
        }
    }
}
