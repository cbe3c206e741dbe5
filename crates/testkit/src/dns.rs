//! A local DNS server for tests: answers A, AAAA, CNAME, MX, TXT and NS queries over UDP from
//! records the test sets (and changes) while it runs, with TTL 0 so nothing is cached. Names
//! it has no record for are NXDOMAIN. It listens on a loopback port only.

use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::Record;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

type Records = Arc<Mutex<HashMap<(String, RecordType), Vec<RData>>>>;

/// A UDP DNS server on `127.0.0.1:<port>`, stopped when dropped.
pub struct DnsServer {
    /// Where it listens: give it as `PROBE_DNS_SERVERS`.
    pub addr: SocketAddr,
    records: Records,
    queries: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

fn key(name: &str, kind: RecordType) -> (String, RecordType) {
    (name.trim_end_matches('.').to_ascii_lowercase(), kind)
}

impl DnsServer {
    /// Starts an empty server.
    pub async fn start() -> Self {
        let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.expect("bind a loopback UDP port");
        let addr = socket.local_addr().expect("addr");
        let records: Records = Arc::default();
        let queries = Arc::new(AtomicU64::new(0));
        let (r, q) = (records.clone(), queries.clone());
        let task = tokio::spawn(async move {
            let mut buf = vec![0u8; 4_096];
            while let Ok((n, peer)) = socket.recv_from(&mut buf).await {
                q.fetch_add(1, Ordering::Relaxed);
                if let Some(answer) = answer(&r, &buf[..n]) {
                    let _ = socket.send_to(&answer, peer).await;
                }
            }
        });
        Self { addr, records, queries, task }
    }

    /// Replaces the answers for `name`'s `kind` records (empty: NXDOMAIN once no kind is left).
    pub fn set(&self, name: &str, kind: RecordType, data: Vec<RData>) {
        let mut records = self.records.lock().expect("lock");
        if data.is_empty() {
            records.remove(&key(name, kind));
        } else {
            records.insert(key(name, kind), data);
        }
    }

    /// Sets `name`'s A records to `ips`.
    pub fn set_a(&self, name: &str, ips: &[std::net::Ipv4Addr]) {
        self.set(name, RecordType::A, ips.iter().map(|ip| RData::A((*ip).into())).collect());
    }

    /// Queries answered so far.
    pub fn queries(&self) -> u64 {
        self.queries.load(Ordering::Relaxed)
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn answer(records: &Records, request: &[u8]) -> Option<Vec<u8>> {
    let request = Message::from_vec(request).ok()?;
    let mut response = Message::response(request.metadata.id, request.metadata.op_code);
    response.metadata.recursion_desired = request.metadata.recursion_desired;
    response.metadata.recursion_available = true;
    response.metadata.authoritative = true;
    response.metadata.message_type = MessageType::Response;
    let query = request.queries.first()?.clone();
    let name = query.name().to_ascii();
    let records = records.lock().ok()?;
    let known = records.keys().any(|(n, _)| *n == key(&name, RecordType::A).0);
    let mut answers: Vec<Record> = Vec::new();
    let qname = Name::from_ascii(&name).ok()?;
    if let Some(data) = records.get(&key(&name, query.query_type())) {
        answers.extend(data.iter().map(|d| Record::from_rdata(qname.clone(), 0, d.clone())));
    } else if let Some(cname) = records.get(&key(&name, RecordType::CNAME)) {
        answers.extend(cname.iter().map(|d| Record::from_rdata(qname.clone(), 0, d.clone())));
    }
    if !known && answers.is_empty() {
        response.metadata.response_code = ResponseCode::NXDomain;
    }
    response.add_query(query);
    response.add_answers(answers);
    response.to_vec().ok()
}

pub use hickory_proto::rr::rdata::{CNAME, NS};
pub use hickory_proto::rr::{Name, RData, RecordType};

/// A DNS name, for building records.
pub fn name(s: &str) -> Name {
    Name::from_ascii(s).expect("a DNS name")
}

/// An MX record's data.
pub fn mx(preference: u16, exchange: &str) -> hickory_proto::rr::rdata::MX {
    hickory_proto::rr::rdata::MX::new(preference, name(exchange))
}

/// A TXT record's data (one string).
pub fn txt(text: &str) -> hickory_proto::rr::rdata::TXT {
    hickory_proto::rr::rdata::TXT::new(vec![text.to_string()])
}
