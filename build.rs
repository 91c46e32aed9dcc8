//! Makes sure cargo fetches and unpacks `protoc-bin-vendored`, whose protoc
//! `scripts/protoc` falls back to when the machine has none (etcd-client's
//! build script compiles etcd's .proto files with it).
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    // Fails the build early, with the crate's own message, on a platform
    // without a vendored protoc.
    protoc_bin_vendored::protoc_bin_path()
        .expect("protoc-bin-vendored has no protoc for this platform");
}
