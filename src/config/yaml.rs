//! Reading a config's YAML: the file's text, without a byte order mark.
use crate::error::usage;
use anyhow::Result;
use std::path::Path;

/// The text of the config file `path`, without a UTF-8 byte order mark (which some Windows
/// editors write): left in, it hid the first line's key from the line numbers of errors.
pub fn read_config(path: &Path) -> Result<String> {
    let text = crate::input::read_to_string(path)
        .map_err(|e| usage(format!("cannot read config file {}: {e}", path.display())))?;
    Ok(match text.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_string(),
        None => text,
    })
}
