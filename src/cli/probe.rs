//! `probe` and `serve` options. (Skeleton.)

#[derive(clap::Args, Debug, Clone)]
pub struct ProbeArgs {}

#[derive(clap::Args, Debug, Clone)]
pub struct ServeArgs {}

pub fn run_probe(_a: ProbeArgs) -> anyhow::Result<i32> {
    anyhow::bail!("probe is not implemented yet")
}

pub fn run_serve(_a: ServeArgs) -> anyhow::Result<i32> {
    anyhow::bail!("serve is not implemented yet")
}
