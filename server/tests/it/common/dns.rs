//! A DNS server for a test zone, on 127.0.0.1 (UDP), answering with
//! hickory's own types: the records whose name and type match the query;
//! NXDOMAIN for a name the zone does not have.

use std::net::SocketAddr;

use hickory_resolver::proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_resolver::proto::rr::{Name, RData, Record};

/// Serve `zone` (names without the final dot, lower case) until the test ends.
pub async fn serve(zone: Vec<(String, RData)>) -> SocketAddr {
    serve_dynamic(move || zone.clone()).await
}

/// Serve the zone `zone()` returns at each query (a test may change it).
pub async fn serve_dynamic(zone: impl Fn() -> Vec<(String, RData)> + Send + 'static) -> SocketAddr {
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("dns socket");
    let addr = sock.local_addr().expect("dns addr");
    tokio::spawn(async move {
        let mut buf = vec![0u8; 1500];
        loop {
            let Ok((n, peer)) = sock.recv_from(&mut buf).await else {
                return;
            };
            let Ok(q) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            let Some(query) = q.queries().first().cloned() else {
                continue;
            };
            let mut m = Message::new(q.id(), MessageType::Response, OpCode::Query);
            m.set_authoritative(true);
            m.set_recursion_desired(q.recursion_desired());
            m.set_recursion_available(true);
            let name = query.name().to_ascii().to_ascii_lowercase();
            let name = name.trim_end_matches('.');
            let zone = zone();
            if !zone.iter().any(|(n, _)| n == name) {
                m.set_response_code(ResponseCode::NXDomain);
            }
            for (_, data) in zone
                .iter()
                .filter(|(n, d)| n == name && d.record_type() == query.query_type())
            {
                m.add_answer(Record::from_rdata(query.name().clone(), 60, data.clone()));
            }
            m.add_query(query);
            if let Ok(bytes) = m.to_vec() {
                let _ = sock.send_to(&bytes, peer).await;
            }
        }
    });
    addr
}

/// A name of the zone (absolute).
pub fn name(s: &str) -> Name {
    Name::from_ascii(format!("{s}.")).expect("dns name")
}
