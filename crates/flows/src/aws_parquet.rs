//! AWS VPC Flow Logs in Parquet (Gzip-compressed by AWS), read column by column with the low-level
//! `parquet` reader. Column names use underscores (`interface_id`, `log_status`, …); integers may be
//! INT32 or INT64; missing values are nulls or `-`. Each row goes through the same interpretation as
//! a text record, so both formats mean the same thing.

use crate::agg::Aggregator;
use crate::aws_text::{apply, role_of, IGNORED, ROLES};
use crate::{FlowError, FlowSource};
use parquet::column::reader::ColumnReader;
use parquet::file::reader::{FileReader, SerializedFileReader};
use std::path::Path;

pub(crate) fn read(path: &Path, agg: &mut Aggregator) -> Result<(), FlowError> {
    let pq = |source| FlowError::Parquet {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(|e| FlowError::io(path, e))?;
    let reader = SerializedFileReader::new(file).map_err(pq)?;
    let schema = reader.metadata().file_metadata().schema_descr_ptr();
    let columns: Vec<(usize, u8, i16, String)> = schema
        .columns()
        .iter()
        .enumerate()
        .map(|(i, c)| {
            (
                i,
                role_of(c.name()),
                c.max_def_level(),
                c.name().to_string(),
            )
        })
        .filter(|(_, role, _, _)| *role != IGNORED)
        .collect();
    for (needed, name) in [
        (crate::aws_text::SRC, "srcaddr"),
        (crate::aws_text::DST, "dstaddr"),
        (crate::aws_text::ACTION, "action"),
    ] {
        if !columns.iter().any(|c| c.1 == needed) {
            return Err(FlowError::MissingField {
                path: path.to_path_buf(),
                field: name,
            });
        }
    }
    agg.source(FlowSource::AwsVpc);
    let file_name = path.display().to_string();
    let mut row_base = 0u64;
    for g in 0..reader.num_row_groups() {
        let group = reader.get_row_group(g).map_err(pq)?;
        let rows = group.metadata().num_rows() as usize;
        let mut cells: Vec<(u8, Vec<Option<Vec<u8>>>)> = Vec::with_capacity(columns.len());
        for (i, role, max_def, name) in &columns {
            let reader = group.get_column_reader(*i).map_err(pq)?;
            let values = column_text(reader, rows, *max_def, path, name)?;
            cells.push((*role, values));
        }
        for row in 0..rows {
            let mut vals: [&[u8]; ROLES] = [b"-"; ROLES];
            for (role, values) in &cells {
                if let Some(Some(v)) = values.get(row) {
                    vals[*role as usize] = v;
                }
            }
            if let Err(reason) = apply(&vals, agg) {
                agg.skip(&file_name, row_base + row as u64 + 1, reason);
            }
        }
        row_base += rows as u64;
    }
    Ok(())
}

/// One column of a row group as text cells (None for null), whatever its physical type.
fn column_text(
    reader: ColumnReader,
    rows: usize,
    max_def: i16,
    path: &Path,
    name: &str,
) -> Result<Vec<Option<Vec<u8>>>, FlowError> {
    let pq = |source| FlowError::Parquet {
        path: path.to_path_buf(),
        source,
    };
    let mut defs: Vec<i16> = Vec::with_capacity(rows);
    let dense: Vec<Vec<u8>> = match reader {
        ColumnReader::ByteArrayColumnReader(mut r) => {
            let mut v = Vec::with_capacity(rows);
            r.read_records(rows, Some(&mut defs), None, &mut v)
                .map_err(pq)?;
            v.into_iter().map(|b| b.data().to_vec()).collect()
        }
        ColumnReader::Int32ColumnReader(mut r) => {
            let mut v = Vec::with_capacity(rows);
            r.read_records(rows, Some(&mut defs), None, &mut v)
                .map_err(pq)?;
            v.into_iter().map(|n| n.to_string().into_bytes()).collect()
        }
        ColumnReader::Int64ColumnReader(mut r) => {
            let mut v = Vec::with_capacity(rows);
            r.read_records(rows, Some(&mut defs), None, &mut v)
                .map_err(pq)?;
            v.into_iter().map(|n| n.to_string().into_bytes()).collect()
        }
        _ => {
            return Err(FlowError::ParquetColumn {
                path: path.to_path_buf(),
                column: name.to_string(),
                found: "another physical type".into(),
                expected: "BYTE_ARRAY, INT32 or INT64",
            })
        }
    };
    if max_def == 0 {
        return Ok(dense.into_iter().map(Some).collect());
    }
    let mut dense = dense.into_iter();
    Ok(defs
        .iter()
        .map(|&d| if d == max_def { dense.next() } else { None })
        .collect())
}
