//! Bedrock Converse request bodies: any bytes decode to a request or to a clear error, never a panic; a decoded request
//! serializes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(request) = switchyard_dialects::bedrock::decode_converse_request(
        "eu.anthropic.claude-sonnet-4-5-20250929-v1:0",
        data,
        false,
    ) {
        let _ = serde_json::to_vec(&request);
    }
});
