//! The benchmark's driver (bench/flows.sh):
//!
//!   flows_bench generate DIR FILES RECORDS_PER_FILE   # AWS default-format text in the S3 layout
//!   flows_bench read PATH...                           # read_paths on every core, print figures

use egress_audit_flows::{generate, read_paths, ReadOptions};
use std::path::PathBuf;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("generate") if args.len() == 4 => {
            let dir = PathBuf::from(&args[1]);
            let files: usize = args[2].parse().expect("FILES is a number");
            let per_file: usize = args[3].parse().expect("RECORDS_PER_FILE is a number");
            let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
            let t = Instant::now();
            let bytes: u64 = std::thread::scope(|s| {
                let handles: Vec<_> = (0..threads)
                    .map(|k| {
                        let dir = &dir;
                        let range = (files * k / threads)..(files * (k + 1) / threads);
                        s.spawn(move || {
                            generate::bulk_aws_text(dir, range, per_file, 42).map(|r| r.1)
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| h.join().expect("generator thread").expect("writing"))
                    .sum()
            });
            println!(
                "generated {} records, {:.2} GB in {files} files, {:.1} s",
                files * per_file,
                bytes as f64 / 1e9,
                t.elapsed().as_secs_f64()
            );
        }
        Some("read") if args.len() > 1 => {
            let t = Instant::now();
            let profile = read_paths(&args[1..], &ReadOptions::default()).expect("readable logs");
            let secs = t.elapsed().as_secs_f64();
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            println!(
                "records {} keys {} skipped {} holes {} seconds {secs:.2} records_per_s_per_core {:.0}",
                profile.records,
                profile.flows.len(),
                profile.skipped_count,
                profile.holes.len(),
                profile.records as f64 / secs / cores as f64
            );
        }
        _ => {
            eprintln!(
                "usage: flows_bench generate DIR FILES RECORDS_PER_FILE | flows_bench read PATH..."
            );
            std::process::exit(2);
        }
    }
}
