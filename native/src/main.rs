fn main() {
    eprintln!("reverb: the server is not built yet");
    std::process::exit(2);
}
