use std::process::Command;
fn main() {
    let out = std::env::var("OUT_DIR").unwrap();
    assert!(Command::new("cc").args(["-O2", "-c", "toggle.c", "-o"]).arg(format!("{out}/toggle.o")).status().unwrap().success());
    assert!(Command::new("ar").args(["crs"]).arg(format!("{out}/libtoggle.a")).arg(format!("{out}/toggle.o")).status().unwrap().success());
    println!("cargo:rustc-link-search=native={out}");
    println!("cargo:rustc-link-lib=static=toggle");
    println!("cargo:rerun-if-changed=toggle.c");
}
