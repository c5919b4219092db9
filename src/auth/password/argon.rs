//! Argon2: the parameters of new hashes, verification of stored PHC strings with their own
//! algorithm, version and parameters (within limits), and the per-thread memory reuse that
//! keeps the process small under a sign-in burst.

use std::{
    cell::RefCell,
    sync::atomic::{AtomicU64, Ordering},
};

use argon2::{
    password_hash::{rand_core::OsRng, PasswordHash},
    Algorithm, Argon2, Block, Params, Version,
};
use base64::{engine::general_purpose::STANDARD_NO_PAD as PHC_B64, Engine};
use rand::RngCore;
use subtle::ConstantTimeEq;

use super::PasswordCheck;

/// Largest Argon2 costs this server computes for a stored hash: an imported hash with absurd
/// parameters must not exhaust memory or stall the hashing threads (a hash with higher costs
/// is refused at import and fails verification). The configured parameters are always
/// accepted, even above these.
pub const MAX_M_KIB: u32 = 128 * 1024;
pub const MAX_T: u32 = 10;
pub const MAX_P: u32 = 8;

/// Algorithm, version and parameters of an Argon2 PHC hash, within the limits above (or the
/// `configured` parameters'). A hash without `v=` is version 0x10, as in the reference
/// implementation.
pub(super) fn argon2_settings(
    parsed: &PasswordHash<'_>,
    configured: Option<&Params>,
) -> Result<(Algorithm, Version, Params), String> {
    let algorithm = Algorithm::try_from(parsed.algorithm).map_err(|e| e.to_string())?;
    let version = match parsed.version {
        None => Version::V0x10,
        Some(v) => Version::try_from(v).map_err(|e| e.to_string())?,
    };
    let params = Params::try_from(parsed).map_err(|e| e.to_string())?;
    let (max_m, max_t, max_p) = match configured {
        Some(c) => (
            MAX_M_KIB.max(c.m_cost()),
            MAX_T.max(c.t_cost()),
            MAX_P.max(c.p_cost()),
        ),
        None => (MAX_M_KIB, MAX_T, MAX_P),
    };
    if params.m_cost() > max_m || params.t_cost() > max_t || params.p_cost() > max_p {
        return Err(format!(
            "Argon2 parameters beyond m={max_m},t={max_t},p={max_p}"
        ));
    }
    if parsed.salt.is_none() || parsed.hash.is_none() {
        return Err("Argon2 hash without salt or output".into());
    }
    Ok((algorithm, version, params))
}

thread_local! {
    /// The Argon2 memory of this hashing thread, reused by every hash it computes.
    static MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// Capacity, in 1 KiB blocks, of a hashing thread's buffer: just over 32 MiB, the largest
/// mmap threshold glibc ever adapts to. An allocation above it always gets a mapping of its
/// own, handed back to the system when freed, however glibc's thresholds have moved; only
/// the `m` KiB actually written become resident, the rest is address space.
const OWN_MAPPING_BLOCKS: usize = 32 * 1024 + 1;

/// Where an Argon2 computation gets its `m` KiB of memory.
#[derive(Clone, Copy)]
pub(super) enum Memory {
    /// The calling thread's buffer, kept for the next hash while there is work
    /// ([`release_thread_memory`] once the thread has been idle for a second). Freeing and reallocating 19 MiB
    /// per hash made glibc keep such blocks around (its mmap threshold adapts upwards), so a
    /// sign-in burst grew the process by hundreds of MiB; a kept buffer holds it at `m` KiB
    /// per busy hashing thread, and an idle one holds none.
    Reuse,
    /// A one-off buffer, for unusual parameters.
    Scratch,
}

fn argon2_into(
    argon: &Argon2<'_>,
    params: &Params,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
    memory: Memory,
) -> Result<(), argon2::Error> {
    let blocks = params.block_count();
    match memory {
        Memory::Scratch => argon.hash_password_into_with_memory(
            password,
            salt,
            out,
            vec![Block::default(); blocks],
        ),
        Memory::Reuse => MEMORY.with(|m| {
            let mut m = m.borrow_mut();
            if m.len() != blocks {
                *m = Vec::with_capacity(blocks.max(OWN_MAPPING_BLOCKS));
                m.resize(blocks, Block::default());
            }
            argon.hash_password_into_with_memory(password, salt, out, &mut m[..])
        }),
    }
}

/// Frees this thread's Argon2 buffer (the hashing threads call it once idle for a second),
/// so that an idle server does not keep `m` KiB per hashing thread resident.
pub(super) fn release_thread_memory() {
    MEMORY.with(|m| *m.borrow_mut() = Vec::new());
}

/// How many KiB of Argon2 memory this thread holds (for tests).
#[cfg(test)]
pub(super) fn thread_memory_kib() -> usize {
    MEMORY.with(|m| m.borrow().len())
}

/// Hashes with Argon2id and `params` into a PHC string (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`).
pub(super) fn hash_phc(params: &Params, password: &str, memory: Memory) -> anyhow::Result<String> {
    let mut salt = [0u8; 16];
    OsRng.fill_bytes(&mut salt);
    let mut out = [0u8; 32];
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    argon2_into(&argon, params, password.as_bytes(), &salt, &mut out, memory)
        .map_err(|e| anyhow::anyhow!("argon2 hashing failed: {e}"))?;
    Ok(format!(
        "$argon2id$v=19$m={},t={},p={}${}${}",
        params.m_cost(),
        params.t_cost(),
        params.p_cost(),
        PHC_B64.encode(salt),
        PHC_B64.encode(out)
    ))
}

/// Verifies `password` against a parsed Argon2 PHC hash, with the hash's own algorithm,
/// version and parameters, in constant time.
fn verify_phc(
    parsed: &PasswordHash<'_>,
    settings: &(Algorithm, Version, Params),
    password: &str,
    memory: Memory,
) -> Result<bool, argon2::password_hash::Error> {
    let (algorithm, version, params) = settings.clone();
    let salt = parsed
        .salt
        .ok_or(argon2::password_hash::Error::SaltInvalid(
            argon2::password_hash::errors::InvalidValue::Malformed,
        ))?;
    let mut salt_buf = [0u8; 64];
    let salt = salt.decode_b64(&mut salt_buf)?;
    let expected = parsed.hash.ok_or(argon2::password_hash::Error::Password)?;
    let mut out = vec![0u8; expected.len()];
    let argon = Argon2::new(algorithm, version, params.clone());
    argon2_into(&argon, &params, password.as_bytes(), salt, &mut out, memory)?;
    Ok(bool::from(out.ct_eq(expected.as_bytes())))
}

/// Verifies `password` against a stored Argon2 PHC string. Anything but Argon2id with exactly
/// `params` asks for an upgrade.
/// `runs` counts the Argon2 computations actually made.
pub(super) fn verify_argon2(
    params: &Params,
    password: &str,
    stored: &str,
    runs: &AtomicU64,
) -> PasswordCheck {
    let failed = PasswordCheck {
        ok: false,
        needs_rehash: false,
    };
    let Ok(parsed) = PasswordHash::new(stored) else {
        tracing::error!("stored password hash has an unknown format");
        return failed;
    };
    let settings = match argon2_settings(&parsed, Some(params)) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(reason = %e, "stored Argon2 hash cannot be verified");
            return failed;
        }
    };
    let current = is_current_settings(params, &settings);
    // Only the current parameters use the thread's reusable memory (others are imported,
    // rare, and upgraded on success).
    let memory = if current {
        Memory::Reuse
    } else {
        Memory::Scratch
    };
    runs.fetch_add(1, Ordering::Relaxed);
    let ok = verify_phc(&parsed, &settings, password, memory).unwrap_or(false);
    PasswordCheck {
        ok,
        needs_rehash: !current,
    }
}

/// Whether `hash` is an Argon2 PHC string this server can verify.
pub(super) fn is_verifiable(hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|p| argon2_settings(&p, None).is_ok())
}

/// Whether `stored` is an Argon2id hash with exactly the current parameters.
pub(super) fn is_current(params: &Params, stored: &str) -> bool {
    PasswordHash::new(stored)
        .ok()
        .and_then(|parsed| argon2_settings(&parsed, Some(params)).ok())
        .is_some_and(|settings| is_current_settings(params, &settings))
}

fn is_current_settings(params: &Params, settings: &(Algorithm, Version, Params)) -> bool {
    matches!(settings, (Algorithm::Argon2id, Version::V0x13, p)
        if p.m_cost() == params.m_cost() && p.t_cost() == params.t_cost() && p.p_cost() == params.p_cost())
}
