//! A bare-bones Postgres wire client for what drivers hide: the transaction status byte of each
//! ReadyForQuery, and every message's command tag or SQLSTATE. Simple query protocol only.

use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// What the server answered to one query string.
#[derive(Debug, PartialEq, Eq)]
pub struct Answer {
    /// Command tags (CommandComplete) and `ERROR <SQLSTATE>` entries, in order.
    pub results: Vec<String>,
    /// ReadyForQuery's transaction status: `I`, `T` or `E`.
    pub status: char,
}

/// One connection speaking the protocol by hand.
pub struct RawClient {
    stream: TcpStream,
}

impl RawClient {
    /// Connects as `tester` to database `driftdb` (trust authentication) and waits until ready.
    pub async fn connect(addr: SocketAddr) -> RawClient {
        let stream = TcpStream::connect(addr).await.expect("connect");
        let mut client = RawClient { stream };
        let mut body = 196608u32.to_be_bytes().to_vec();
        for part in ["user", "tester", "database", "driftdb"] {
            body.extend_from_slice(part.as_bytes());
            body.push(0);
        }
        body.push(0);
        let mut message = ((body.len() + 4) as u32).to_be_bytes().to_vec();
        message.extend_from_slice(&body);
        client.stream.write_all(&message).await.expect("startup");
        let answer = client.read_until_ready().await;
        assert_eq!(answer.status, 'I', "a new connection is idle");
        client
    }

    /// Sends one simple query and reads everything up to ReadyForQuery.
    pub async fn query(&mut self, sql: &str) -> Answer {
        let mut message = vec![b'Q'];
        message.extend_from_slice(&((sql.len() + 5) as u32).to_be_bytes());
        message.extend_from_slice(sql.as_bytes());
        message.push(0);
        self.stream.write_all(&message).await.expect("send query");
        self.read_until_ready().await
    }

    async fn read_until_ready(&mut self) -> Answer {
        let mut results = Vec::new();
        loop {
            let kind = self.stream.read_u8().await.expect("message type");
            let len = self.stream.read_u32().await.expect("message length") as usize;
            let mut body = vec![0; len - 4];
            self.stream
                .read_exact(&mut body)
                .await
                .expect("message body");
            match kind {
                b'C' => results.push(String::from_utf8_lossy(&body[..body.len() - 1]).into()),
                b'E' => results.push(format!("ERROR {}", error_code(&body))),
                b'R' if body[..4] != [0, 0, 0, 0] => panic!("the server asked for a password"),
                b'Z' => {
                    return Answer {
                        results,
                        status: body[0] as char,
                    };
                }
                _ => {}
            }
        }
    }
}

/// The SQLSTATE field (`C`) of an ErrorResponse body.
fn error_code(body: &[u8]) -> String {
    let mut fields = body.split(|&b| b == 0);
    fields
        .find_map(|field| field.strip_prefix(b"C"))
        .map(|code| String::from_utf8_lossy(code).into_owned())
        .unwrap_or_default()
}
