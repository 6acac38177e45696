//! The optional MLLP listener (`px360 serve --mllp ADDR`): HL7 v2 over TCP, each message framed as
//! `0x0B <message> 0x1C 0x0D`, each answered with its ACK in the same framing. Messages go through the
//! same intake as `POST /api/integrations/hl7v2/`. MLLP carries no credentials: bind it to the
//! interface network only. The hospital is `--mllp-hospital` (a code), else MSH-6, else the only one.

use std::net::SocketAddr;

use anyhow::Context;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use super::service::channels::{self, Hl7Caller};
use crate::platform::limits::INBOUND_EVENT;
use crate::platform::state::AppState;

const START: u8 = 0x0b;
const END: [u8; 2] = [0x1c, 0x0d];

/// Splits complete frames off the front of `buf`; bytes before a start block are discarded.
pub fn take_frames(buf: &mut Vec<u8>) -> Vec<Vec<u8>> {
    let mut out = vec![];
    loop {
        let Some(start) = buf.iter().position(|b| *b == START) else {
            buf.clear();
            return out;
        };
        let Some(end) = buf[start..]
            .windows(2)
            .position(|w| w == END)
            .map(|e| e + start)
        else {
            buf.drain(..start);
            return out;
        };
        out.push(buf[start + 1..end].to_vec());
        buf.drain(..end + 2);
    }
}

pub fn frame(msg: &str) -> Vec<u8> {
    let mut v = Vec::with_capacity(msg.len() + 3);
    v.push(START);
    v.extend_from_slice(msg.as_bytes());
    v.extend_from_slice(&END);
    v
}

/// Listens on `addr` until `shutdown`.
///
/// # Errors
/// When the address cannot be bound.
pub async fn serve(
    state: AppState,
    addr: SocketAddr,
    hospital_code: Option<String>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("--mllp: cannot listen on {addr}"))?;
    tracing::info!(target: "integrations", address = %addr, "MLLP listener started");
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!(target: "integrations", error = %e, "MLLP accept failed");
                        continue;
                    }
                };
                let state = state.clone();
                let code = hospital_code.clone();
                let stop = shutdown.clone();
                tokio::spawn(async move {
                    if let Err(e) = connection(state, stream, code, stop).await {
                        tracing::warn!(target: "integrations", peer = %peer, error = %e, "MLLP connection ended");
                    }
                });
            }
        }
    }
}

async fn connection(
    state: AppState,
    mut stream: TcpStream,
    hospital_code: Option<String>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        let n = tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            n = stream.read(&mut chunk) => n?,
        };
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.len() > INBOUND_EVENT + 16 {
            anyhow::bail!("MLLP frame larger than {INBOUND_EVENT} bytes");
        }
        for msg in take_frames(&mut buf) {
            let raw = String::from_utf8_lossy(&msg).into_owned();
            let ack = match channels::accept_hl7(
                &state,
                Hl7Caller::Mllp,
                &raw,
                hospital_code.as_deref(),
            )
            .await
            {
                Ok(a) => a,
                Err(e) => {
                    // A database error: no ACK means the sender keeps the message and sends it again.
                    tracing::error!(target: "integrations", error = %e, "MLLP message could not be stored");
                    return Err(anyhow::anyhow!("{e}"));
                }
            };
            stream.write_all(&frame(&ack)).await?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_split_and_partial_ones_wait() {
        let mut buf = b"noise".to_vec();
        buf.extend(frame("MSH|one"));
        buf.extend(frame("MSH|two"));
        buf.extend([START]);
        buf.extend(b"MSH|thr");
        let got = take_frames(&mut buf);
        assert_eq!(got, vec![b"MSH|one".to_vec(), b"MSH|two".to_vec()]);
        buf.extend(b"ee");
        buf.extend(END);
        assert_eq!(take_frames(&mut buf), vec![b"MSH|three".to_vec()]);
        assert!(buf.is_empty());
    }
}
