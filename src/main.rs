use clap::Parser as _;

/// mimalloc keeps freed memory for reuse: the embedding model's forward passes allocate and free
/// tensors of megabytes each, which glibc's allocator hands back to the kernel every time (a
/// third of the time went to page faults).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    // The embedding model runs its passes side by side, one per core (llm::local): candle's
    // matrix products read their thread count from RAYON_NUM_THREADS on every call, so it is
    // one unless the operator chose otherwise.
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        // Sound: no other thread exists yet (nothing has started one before this line).
        std::env::set_var("RAYON_NUM_THREADS", "1");
    }
    let cli = paperboy::cli::Cli::parse();
    paperboy::support::telemetry::init(cli.log_format);
    paperboy::cli::main(cli)
}
