//! Every kernel file parses and validates with naga (no GPU needed), as
//! the GPU backend compiles it: the shared prelude, then the file.

use tensorsearch::engine::gpu::PRELUDE;

#[test]
fn every_wgsl_file_validates() {
    let shaders = tensorsearch::all_shaders();
    assert!(shaders.len() >= 14);
    for (family, source) in shaders {
        let text = format!("{PRELUDE}\n{source}");
        let module = naga::front::wgsl::parse_str(&text)
            .unwrap_or_else(|e| panic!("{family}.wgsl: {}", e.emit_to_string(&text)));
        naga::valid::Validator::new(
            naga::valid::ValidationFlags::all(),
            naga::valid::Capabilities::empty(),
        )
        .validate(&module)
        .unwrap_or_else(|e| panic!("{family}.wgsl: {}", e.emit_to_string(&text)));
        assert!(
            module
                .entry_points
                .iter()
                .all(|e| e.stage == naga::ShaderStage::Compute),
            "{family}.wgsl has a non-compute entry point"
        );
    }
}

#[test]
fn every_wgsl_file_is_registered() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/shaders");
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".wgsl") && n != "prelude.wgsl")
        .collect();
    files.sort();
    let mut registered: Vec<String> = tensorsearch::all_shaders()
        .iter()
        .map(|(f, _)| format!("{f}.wgsl"))
        .collect();
    registered.sort();
    assert_eq!(files, registered);
}
