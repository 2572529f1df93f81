//! The `dialtone` binary's library half: layered configuration and the wiring that turns it into
//! running listeners (`App::build`), so tests start the real server the way `serve` does.
#![forbid(unsafe_code)]

pub mod cli;
pub mod config;
pub mod demo;

use anyhow::Context;
pub use config::Config;
use service::Service;
use std::net::SocketAddr;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Opens the store named by the configuration, brings its schema up to date and does the
/// first-start set-up (a call-control system, the `admin` administrator).
/// Returns the service and, when `admin` was just created with a generated password, that
/// password (to print once).
pub async fn open_service(cfg: &Config) -> anyhow::Result<(Service, Option<String>)> {
    let store = store::Store::open(&cfg.database.url)
        .await
        .context("opening the database")?;
    let service = Service::new(store, cfg.secret_key()?);
    service.bootstrap().await.context("first-start set-up")?;
    let password = cfg.admin_password()?;
    let generated = service
        .ensure_admin(password.as_deref())
        .await
        .context("creating the first administrator")?;
    Ok((service, generated))
}

/// A running Dialtone: its listeners' addresses and a handle to stop it.
pub struct App {
    pub admin_addr: SocketAddr,
    pub service: Service,
    /// The password generated for `admin` at first start, if this start generated one.
    pub generated_admin_password: Option<String>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl App {
    /// Opens the store and binds every listener (port 0 is fine: the bound address is reported).
    pub async fn build(cfg: &Config) -> anyhow::Result<App> {
        let (service, generated) = open_service(cfg).await?;
        let listener = TcpListener::bind(&cfg.admin.listen)
            .await
            .with_context(|| format!("binding the admin listener on {}", cfg.admin.listen))?;
        let admin_addr = listener.local_addr()?;
        let router = web::router(web::AppState {
            service: service.clone(),
        });
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
        });
        tracing::info!(%admin_addr, "admin API listening");
        Ok(App {
            admin_addr,
            service,
            generated_admin_password: generated,
            stop: Some(stop),
            task,
        })
    }

    /// Serves until Ctrl-C or SIGTERM, then finishes the requests under way.
    pub async fn run_until_signal(mut self) -> anyhow::Result<()> {
        shutdown_signal().await;
        tracing::info!("shutting down");
        self.stop().await
    }

    pub async fn stop(&mut self) -> anyhow::Result<()> {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        (&mut self.task)
            .await
            .context("server task")?
            .context("server")?;
        self.service.store().close().await;
        Ok(())
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
