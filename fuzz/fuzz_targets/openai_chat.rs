//! OpenAI Chat Completions request bodies: any bytes decode to a request or to a clear error, never a panic; a decoded request
//! serializes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(request) = switchyard_dialects::openai::decode_chat_request(data) {
        let _ = serde_json::to_vec(&request);
    }
});
