//! Fault injection for tests of the failure paths, compiled into debug builds only: in a release
//! build `armed` is always false and the environment is never read.

/// True when `HSC_FAULT` names `point` (debug builds only).
pub fn armed(point: &str) -> bool {
    #[cfg(debug_assertions)]
    {
        std::env::var("HSC_FAULT").is_ok_and(|v| v.split(',').any(|p| p.trim() == point))
    }
    #[cfg(not(debug_assertions))]
    {
        let _ = point;
        false
    }
}
