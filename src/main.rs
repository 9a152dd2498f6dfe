use clap::Parser as _;

fn main() -> std::process::ExitCode {
    let cli = paperboy::cli::Cli::parse();
    paperboy::support::telemetry::init(cli.log_format);
    paperboy::cli::main(cli)
}
