//! The `switchboard` binary. Everything lives in the library; see `server::cli`.

/// See server/Cargo.toml: the allocator is the largest single cost of the webhook hot path.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    server::cli::main()
}
