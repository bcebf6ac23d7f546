//! The GPU flip walk (`shaders/flip.wgsl`) against its CPU reference: the
//! same schemes and the same random streams give the same walks, bit for
//! bit, through several dispatches; and every scheme it ends at holds.

mod common;

use common::gpu::gpu;
use tensorsearch::flip::gpu::{GpuWalks, Limits, Status, Walk};
use tensorsearch::flip::scheme::Z2Scheme;
use tensorsearch::problem::{verify, Field, Shape};

#[test]
fn gpu_walks_equal_the_cpu_reference_bit_for_bit() {
    let Some(mut g) = gpu() else { return };
    for (n, m, p, targets) in [
        (2, 2, 2, [8, 7, 8]),
        (3, 3, 3, [27, 25, 23]),
        (2, 3, 4, [24, 22, 21]),
    ] {
        let shape = Shape::new(n, m, p).unwrap();
        let start = Z2Scheme::standard(shape).unwrap();
        let limits = Limits {
            capacity: start.rank() + 6,
            plateau: 300,
            path_limit: 5_000,
        };
        // 70 walks: more than one workgroup, with targets that stop some
        // early, some at the path limit and some never.
        let mut walks: Vec<Walk> = (0..70)
            .map(|k| Walk::new(&start, targets[k % 3], 1000 + k as u64))
            .collect();
        let resident = GpuWalks::new(&mut g, limits, walks.len()).unwrap();
        resident.upload(&mut g, &walks);
        for round in 0..3 {
            resident.dispatch(&mut g, 1_500);
            resident.dispatch(&mut g, 700);
            for w in &mut walks {
                w.run(&limits, 1_500);
                w.run(&limits, 700);
            }
            let back = resident.read(&mut g);
            for (k, (gpu_walk, cpu_walk)) in back.iter().zip(&walks).enumerate() {
                assert_eq!(gpu_walk, cpu_walk, "{shape}, walk {k}, after round {round}");
            }
        }
        let statuses: Vec<Status> = walks.iter().map(|w| w.status).collect();
        assert!(
            statuses.contains(&Status::Exhausted),
            "{shape}: {statuses:?}"
        );
        assert!(
            walks.iter().map(|w| w.flips).sum::<u32>() > 10_000,
            "{shape}"
        );
        for w in &walks {
            let s = Z2Scheme {
                shape,
                terms: w.terms.clone(),
            };
            assert!(verify(&s.to_decomposition(), Field::Z2).is_ok());
        }
    }
}
