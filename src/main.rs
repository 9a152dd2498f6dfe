use clap::Parser as _;

/// mimalloc keeps freed memory for reuse: the embedding model's forward passes allocate and free
/// tensors of megabytes each, which glibc's allocator hands back to the kernel every time (a
/// third of the time went to page faults).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = paperboy::cli::Cli::parse();
    paperboy::support::telemetry::init(cli.log_format);
    paperboy::cli::main(cli)
}
