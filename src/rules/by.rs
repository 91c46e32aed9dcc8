//! One marker type per rule function of `crate::rules::run`, named as the
//! function. The registry's lines say which finding ids each function
//! gives; `crate::rules` turns every (id, function) pair into an
//! `impl Gives<ids::Id> for by::function`, so a finding built through an
//! `crate::findings::emit::Emit<by::function>` carries only those ids: an
//! unlisted one does not compile. The types are never built (no values).

#![allow(non_camel_case_types)]

/// Marks `run::disk_fsync_slow`.
pub enum disk_fsync_slow {}
/// Marks `run::disk_fsync_stall`.
pub enum disk_fsync_stall {}
/// Marks `run::disk_rotational`.
pub enum disk_rotational {}
/// Marks `run::io_contention`.
pub enum io_contention {}
/// Marks `run::cpu_steal`.
pub enum cpu_steal {}
/// Marks `run::cpu_starved`.
pub enum cpu_starved {}
/// Marks `run::memory_pressure`.
pub enum memory_pressure {}
/// Marks `run::net`.
pub enum net {}
/// Marks `run::etcd_peer_loss`.
pub enum etcd_peer_loss {}
/// Marks `run::cluster`.
pub enum cluster {}
/// Marks `run::stale_from_logs`.
pub enum stale_from_logs {}
/// Marks `run::consistency`.
pub enum consistency {}
/// Marks `run::keyspace`.
pub enum keyspace {}
/// Marks `run::logs`.
pub enum logs {}
/// Marks `run::requests`.
pub enum requests {}
/// Marks `run::load`.
pub enum load {}
/// Marks `run::wal_on_data_device`.
pub enum wal_on_data_device {}
/// Marks `run::snapshot_count_high`.
pub enum snapshot_count_high {}
/// Marks `run::fleet`.
pub enum fleet {}
