//! The live-cluster inspector: what etcd itself reports (status, members,
//! health, alarms, metrics), read with etcd-client and each member's
//! /metrics, and the facts the cluster rules judge.
//!
//! The public API other commands call (it never sees clap types):
//! - [`ConnPlan::new`] checks endpoints, TLS files and timeouts;
//! - [`kubeadm::discover`] reads a kubeadm etcd manifest (URLs, data dir, certs);
//! - [`inspect`] reads the views an [`InspectPlan`] asks for, concurrently;
//! - [`consistency::check`] compares every member's HashKV at one revision;
//! - [`dial::connect`] opens one gRPC client with the plan's TLS and timeouts.

pub mod conn;
pub mod consistency;
pub mod dial;
pub mod error;
pub mod exposition;
pub mod facts;
pub mod inspect;
pub mod kubeadm;
pub mod metrics;
pub mod model;
mod session;
pub mod tls;
pub mod views;

pub use conn::{ConnPlan, ConnRequest};
pub use error::{AtEndpoint, ListError, RequestError};
pub use inspect::{inspect, InspectPlan, MetricsPlan};
pub use model::ClusterReport;
