//! AlphaTensor's published decompositions (shared/data/alphatensor) verify
//! exactly, and are consistent with the built-in table of best ranks.

mod common;

use tensorsearch::problem::{json, reference, verify, Field, VerifyFailure};

#[test]
fn all_forty_published_decompositions_verify() {
    let dir = common::alphatensor_dir();
    let q = json::read_file(&dir.join("alphatensor_q.json")).unwrap();
    let z2 = json::read_file(&dir.join("alphatensor_z2.json")).unwrap();
    assert_eq!((q.len(), z2.len()), (20, 20));
    for d in &q {
        assert_eq!(d.field, Field::Q);
        verify(d, Field::Q).unwrap_or_else(|e| panic!("{} over Q: {e}", d.shape));
        // Their coefficients are integers, so they hold over Z and Z2 too.
        assert!(d.is_integral());
        verify(d, Field::Z).unwrap();
        verify(d, Field::Z2).unwrap();
    }
    for d in &z2 {
        assert_eq!(d.field, Field::Z2);
        verify(d, Field::Z2).unwrap_or_else(|e| panic!("{} over Z2: {e}", d.shape));
    }
}

#[test]
fn rank_47_for_4x4x4_holds_mod_2_only() {
    let dir = common::alphatensor_dir();
    let z2 = json::read_file(&dir.join("alphatensor_z2.json")).unwrap();
    let d = z2
        .iter()
        .find(|d| d.shape.sorted() == [4, 4, 4])
        .expect("4x4x4 is in the file");
    assert_eq!(d.rank(), 47);
    verify(d, Field::Z2).unwrap();
    assert!(matches!(
        verify(d, Field::Z),
        Err(VerifyFailure::WrongEntry { .. })
    ));
}

#[test]
fn no_published_rank_beats_the_table() {
    let dir = common::alphatensor_dir();
    for (file, field) in [
        ("alphatensor_q.json", Field::Q),
        ("alphatensor_z2.json", Field::Z2),
    ] {
        for d in json::read_file(&dir.join(file)).unwrap() {
            let best = reference::best_ranks(d.shape)
                .and_then(|b| b.get(field))
                .expect("shapes up to 5 are listed for every field");
            assert!(
                d.rank() >= best,
                "{} {field}: file rank {} below table {best}",
                d.shape,
                d.rank(),
            );
        }
    }
}

#[test]
fn files_round_trip_through_our_writer() {
    let dir = common::alphatensor_dir();
    let original = json::read_file(&dir.join("alphatensor_q.json")).unwrap();
    let text = json::to_file_text(&original);
    assert_eq!(json::parse_str(&text).unwrap(), original);
}
