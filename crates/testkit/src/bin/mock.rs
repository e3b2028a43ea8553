//! `switchyard-mock [ADDR]`: the mock OpenAI upstream as a process, for the README example
//! and manual testing. Default address 127.0.0.1:18080.

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:18080".to_owned());
    match switchyard_testkit::MockOpenAi::bind(&addr).await {
        Ok(mock) => {
            println!("mock OpenAI upstream listening on {}", mock.base_url());
            mock.wait().await;
        }
        Err(err) => {
            eprintln!("switchyard-mock: cannot listen on {addr}: {err}");
            std::process::exit(2);
        }
    }
}
