//! The README's complete program is the `market_data` example, verbatim, so
//! that what a newcomer pastes is what CI runs.

use std::fs;
use std::path::Path;

#[test]
fn the_readme_shows_the_market_data_example_verbatim() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let read = |path: &Path| {
        fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
    };
    // The workspace's README; a packaged crate carries a copy at its root.
    let readme = ["../README.md", "README.md"]
        .map(|path| crate_dir.join(path))
        .into_iter()
        .find(|path| path.exists())
        .map_or_else(
            || panic!("no README.md in or above {}", crate_dir.display()),
            |path| read(&path),
        );
    let example = read(&crate_dir.join("examples/market_data.rs"));
    let block = format!("```rust\n{example}```");
    assert!(
        readme.contains(&block),
        "README.md's library section must show tickwire/examples/market_data.rs verbatim \
         in a ```rust block; copy the example there"
    );
}
