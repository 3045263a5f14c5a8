import { spawnSync } from "child_process";
import { ensureDebianPackages } from "./debian-packages";

/**
 * The arm64 Rust toolchain, from Debian's packages: rustc-web and cargo-web (a Rust that ships
 * other targets' standard libraries as packages), the arm64 standard library, the cross linker and
 * C compiler (crates such as ring compile C), and qemu-user to run arm64 binaries here.
 */
export const DEBIAN_PACKAGES = [
  "rustc-web",
  "cargo-web",
  "libstd-rust-web-dev:arm64",
  "gcc-aarch64-linux-gnu",
  "libc6-dev-arm64-cross",
  "qemu-user",
];

/** Installs the Debian packages when missing (as root), or stops with the exact command to run. */
export function ensureRustToolchain(): void {
  if (spawnSync("dpkg-query", ["--version"]).status !== 0) {
    throw new Error(
      "the arm64 Rust toolchain is installed from Debian packages, and this is not a Debian-like system. Install instead: " +
        "`rustup target add aarch64-unknown-linux-gnu` and an aarch64-linux-gnu cross gcc (macOS: a cross toolchain from Homebrew), " +
        "then put aarch64-linux-gnu-gcc on PATH. Without it, builds fall back to x86_64 with a warning.",
    );
  }
  ensureDebianPackages("rust: arm64 toolchain", "the arm64 Rust toolchain", DEBIAN_PACKAGES, "arm64");
}
