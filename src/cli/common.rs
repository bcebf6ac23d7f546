//! What the commands share: devices, shapes, durations, one-line errors.

use anyhow::{anyhow, Result};
use tensorsearch::engine::gpu;
use tensorsearch::problem::Shape;

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DeviceArg {
    /// A hardware GPU when there is one, else the CPU backend.
    Auto,
    /// The best wgpu adapter (a software adapter such as lavapipe is accepted).
    Gpu,
    /// The native CPU backend.
    Cpu,
}

pub enum Device {
    Gpu(Box<gpu::GpuBackend>),
    Cpu,
}

/// An error and its causes on one line.
pub fn one_line(e: &anyhow::Error) -> String {
    format!("{e:#}").replace('\n', " ")
}

/// `gpu`: the best adapter, software accepted (and said so); `cpu`: the
/// native backend; `auto`: a hardware GPU when there is one, else the CPU.
pub fn choose_device(arg: DeviceArg) -> Result<Device> {
    let hardware = || {
        gpu::enumerate_adapters()
            .into_iter()
            .find(|a| a.get_info().device_type != wgpu::DeviceType::Cpu)
    };
    let device = match arg {
        DeviceArg::Cpu => Device::Cpu,
        DeviceArg::Gpu => Device::Gpu(Box::new(gpu::GpuBackend::new()?)),
        DeviceArg::Auto => match hardware() {
            Some(adapter) => Device::Gpu(Box::new(gpu::GpuBackend::with_adapter(adapter)?)),
            None => Device::Cpu,
        },
    };
    Ok(device)
}

/// `90s`, `10m`, `2h`, or plain seconds.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let t = text.trim();
    let (number, unit) = match t.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => (&t[..i], &t[i..]),
        None => (t, "s"),
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("'{text}' is not a duration like 90s, 10m or 2h"))?;
    let scale = match unit {
        "s" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        _ => return Err(format!("'{text}': unknown unit '{unit}' (s, m or h)")),
    };
    if !(value > 0.0 && (value * scale).is_finite()) {
        return Err(format!("'{text}' must be a positive duration"));
    }
    Ok(std::time::Duration::from_secs_f64(value * scale))
}

pub fn parse_shape(text: &str) -> Result<Shape> {
    text.parse::<Shape>().map_err(|e| anyhow!(e))
}

/// On a resumed run, an option given again must agree with the saved one;
/// the saved value is used when it is not given.
pub fn agree<T: PartialEq + std::fmt::Debug>(flag: &str, given: Option<T>, saved: T) -> Result<T> {
    match given {
        Some(g) if g != saved => Err(anyhow!(
            "{flag} {g:?} conflicts with the checkpoint's {saved:?} (leave it out to continue the run as it was)"
        )),
        _ => Ok(saved),
    }
}

/// The game is played over Z or Z2.
pub fn game_field(field: tensorsearch::problem::Field) -> Result<tensorsearch::problem::Field> {
    use tensorsearch::problem::Field;
    match field {
        Field::Z | Field::Z2 => Ok(field),
        Field::Q => Err(anyhow!(
            "the game is played over z or z2 (rational schemes are verified and exported, not searched)"
        )),
    }
}

/// The field a checkpoint names.
pub fn field_named(name: &str) -> Result<tensorsearch::problem::Field> {
    use tensorsearch::problem::Field;
    Field::ALL
        .into_iter()
        .find(|f| f.name() == name)
        .ok_or_else(|| anyhow!("a checkpoint names an unknown field '{name}'"))
}
