//! TFTP packets (RFC 1350) with options (RFC 2347): parsing what clients send and encoding what
//! the server sends. Pure; every input is checked, none can panic.

/// Opcodes.
pub const RRQ: u16 = 1;
pub const WRQ: u16 = 2;
pub const DATA: u16 = 3;
pub const ACK: u16 = 4;
pub const ERROR: u16 = 5;
pub const OACK: u16 = 6;

/// Error codes (RFC 1350, 2347).
pub const ERR_NOT_DEFINED: u16 = 0;
pub const ERR_NOT_FOUND: u16 = 1;
pub const ERR_ACCESS: u16 = 2;
pub const ERR_ILLEGAL: u16 = 4;
pub const ERR_OPTIONS: u16 = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Octet,
    Netascii,
}

/// A read or write request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub write: bool,
    pub filename: String,
    pub mode: Mode,
    /// Options as sent, names in lower case.
    pub options: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PacketError {
    #[error("packet too short")]
    Short,
    #[error("opcode {0} is not a request")]
    NotRequest(u16),
    #[error("a field is not terminated by NUL")]
    Unterminated,
    #[error("a field is not ASCII text")]
    NotText,
    #[error("transfer mode `{0}` is not octet or netascii")]
    Mode(String),
}

/// Parses a request (RRQ or WRQ).
pub fn parse_request(b: &[u8]) -> Result<Request, PacketError> {
    if b.len() < 4 {
        return Err(PacketError::Short);
    }
    let op = u16::from_be_bytes([b[0], b[1]]);
    let write = match op {
        RRQ => false,
        WRQ => true,
        other => return Err(PacketError::NotRequest(other)),
    };
    let mut fields = Vec::new();
    let mut rest = &b[2..];
    while !rest.is_empty() {
        let end = rest
            .iter()
            .position(|c| *c == 0)
            .ok_or(PacketError::Unterminated)?;
        let f = std::str::from_utf8(&rest[..end]).map_err(|_| PacketError::NotText)?;
        if !f.is_ascii() {
            return Err(PacketError::NotText);
        }
        fields.push(f.to_string());
        rest = &rest[end + 1..];
    }
    if fields.len() < 2 {
        return Err(PacketError::Short);
    }
    let mode = match fields[1].to_ascii_lowercase().as_str() {
        "octet" => Mode::Octet,
        "netascii" => Mode::Netascii,
        other => return Err(PacketError::Mode(other.to_string())),
    };
    let options = fields[2..]
        .chunks(2)
        .filter(|c| c.len() == 2)
        .map(|c| (c[0].to_ascii_lowercase(), c[1].clone()))
        .collect();
    Ok(Request {
        write,
        filename: fields[0].clone(),
        mode,
        options,
    })
}

/// What a client sends during a transfer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Ack(u16),
    Error(u16, String),
    Other,
}

pub fn parse_reply(b: &[u8]) -> Reply {
    if b.len() < 4 {
        return Reply::Other;
    }
    let op = u16::from_be_bytes([b[0], b[1]]);
    let n = u16::from_be_bytes([b[2], b[3]]);
    match op {
        ACK => Reply::Ack(n),
        ERROR => Reply::Error(
            n,
            String::from_utf8_lossy(&b[4..])
                .trim_end_matches('\0')
                .to_string(),
        ),
        _ => Reply::Other,
    }
}

pub fn data(block: u16, payload: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(&DATA.to_be_bytes());
    out.extend_from_slice(&block.to_be_bytes());
    out.extend_from_slice(payload);
}

pub fn error(code: u16, message: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(5 + message.len());
    out.extend_from_slice(&ERROR.to_be_bytes());
    out.extend_from_slice(&code.to_be_bytes());
    out.extend(message.bytes().filter(|b| *b != 0 && b.is_ascii()));
    out.push(0);
    out
}

pub fn oack(options: &[(String, String)]) -> Vec<u8> {
    let mut out = OACK.to_be_bytes().to_vec();
    for (k, v) in options {
        out.extend_from_slice(k.as_bytes());
        out.push(0);
        out.extend_from_slice(v.as_bytes());
        out.push(0);
    }
    out
}

/// Netascii (RFC 764): line feeds become CR LF, a bare CR becomes CR NUL.
pub fn to_netascii(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len() + b.len() / 16);
    for &c in b {
        match c {
            b'\n' => out.extend_from_slice(b"\r\n"),
            b'\r' => out.extend_from_slice(b"\r\0"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rrq(fields: &[&str]) -> Vec<u8> {
        let mut b = RRQ.to_be_bytes().to_vec();
        for f in fields {
            b.extend_from_slice(f.as_bytes());
            b.push(0);
        }
        b
    }

    #[test]
    fn requests_print_then_parse() {
        let r = parse_request(&rrq(&[
            "SEP00562B043615.cnf.xml",
            "OCTET",
            "BLKSIZE",
            "1428",
            "windowsize",
            "16",
            "tsize",
            "0",
        ]))
        .unwrap();
        assert!(!r.write);
        assert_eq!(r.filename, "SEP00562B043615.cnf.xml");
        assert_eq!(r.mode, Mode::Octet);
        assert_eq!(
            r.options,
            vec![
                ("blksize".into(), "1428".into()),
                ("windowsize".into(), "16".into()),
                ("tsize".into(), "0".into())
            ]
        );
        assert_eq!(
            parse_request(&rrq(&["f", "netascii"])).unwrap().mode,
            Mode::Netascii
        );
        assert_eq!(
            parse_request(&rrq(&["f", "mail"])),
            Err(PacketError::Mode("mail".into()))
        );
        assert_eq!(parse_request(&[0, 1, b'f']), Err(PacketError::Short));
        assert_eq!(
            parse_request(&[0, 1, b'f', 0, b'o']),
            Err(PacketError::Unterminated)
        );
        assert_eq!(
            parse_request(&[0, 3, 0, 1]),
            Err(PacketError::NotRequest(3))
        );
        assert_eq!(
            parse_request(&[0, 1, 0xff, 0, b'o', 0]),
            Err(PacketError::NotText)
        );
    }

    #[test]
    fn never_panics_on_noise() {
        let mut seed = 0x2545F4914F6CDD1Du64;
        for _ in 0..50_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 40) as usize;
            let b: Vec<u8> = (0..len)
                .map(|i| (seed >> (i % 8 * 8)) as u8 % 4 + if i % 3 == 0 { 0 } else { 48 })
                .collect();
            let _ = parse_request(&b);
            let _ = parse_reply(&b);
        }
    }

    #[test]
    fn replies_and_encodings() {
        assert_eq!(parse_reply(&[0, 4, 1, 2]), Reply::Ack(258));
        assert_eq!(
            parse_reply(&[0, 5, 0, 1, b'n', b'o', 0]),
            Reply::Error(1, "no".into())
        );
        let mut d = Vec::new();
        data(7, b"xy", &mut d);
        assert_eq!(d, vec![0, 3, 0, 7, b'x', b'y']);
        assert_eq!(error(1, "not found"), b"\0\x05\0\x01not found\0".to_vec());
        assert_eq!(
            oack(&[("tsize".into(), "12".into())]),
            b"\0\x06tsize\x0012\0".to_vec()
        );
        assert_eq!(to_netascii(b"a\nb\rc"), b"a\r\nb\r\0c".to_vec());
    }
}
