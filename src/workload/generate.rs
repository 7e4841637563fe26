//! Deterministic generator of the bundled orders payload (an e-commerce export).
//!
//! The same `(seed, size)` always yields the same bytes: the RNG is ChaCha8 (a fixed
//! algorithm), maps are written in a fixed key order, and floats come from integer cents.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

use crate::units::utc_timestamp;

/// Schema tag written at the top of every generated orders document.
pub const ORDERS_SCHEMA: &str = "dynobench.orders/1";

const FIRST: &[&str] = &[
    "Ana",
    "José",
    "Zoë",
    "Łukasz",
    "Søren",
    "Chloé",
    "Mei",
    "Ahmed",
    "Olúwáṣeun",
    "Ines",
    "Björn",
    "Priya",
    "Dmitri",
    "Noémie",
    "Kenji",
    "Fatima",
    "Mateo",
    "Aoife",
    "Grace",
    "Yusuf",
    "Hana",
    "Ravi",
    "Élodie",
    "Tomás",
    "Ngozi",
    "Linnea",
    "Wei",
    "Sofía",
    "Jürgen",
    "Amara",
];
const LAST: &[&str] = &[
    "García",
    "Müller",
    "O'Brien",
    "Nakamura",
    "Kowalski",
    "Dubois",
    "Okafor",
    "Johansson",
    "Rossi",
    "Silva",
    "Novák",
    "Østergaard",
    "Chen",
    "Patel",
    "Smith",
    "Ivanova",
    "Haddad",
    "Nguyễn",
    "Fernández",
    "Lefèvre",
    "Kim",
    "Andersen",
    "Costa",
    "Yılmaz",
    "Brown",
];
const CITIES: &[(&str, &str)] = &[
    ("Berlin", "DE"),
    ("München", "DE"),
    ("Paris", "FR"),
    ("Lyon", "FR"),
    ("Kraków", "PL"),
    ("São Paulo", "BR"),
    ("東京", "JP"),
    ("Zürich", "CH"),
    ("Reykjavík", "IS"),
    ("Austin", "US"),
    ("Seattle", "US"),
    ("New York", "US"),
    ("Toronto", "CA"),
    ("Lagos", "NG"),
    ("Mumbai", "IN"),
    ("Sydney", "AU"),
    ("København", "DK"),
    ("Málaga", "ES"),
];
const STREETS: &[&str] = &[
    "Main St",
    "Hauptstraße",
    "Rue de la Paix",
    "ul. Długa",
    "Rua Augusta",
    "Elm Ave",
    "Baker Street",
    "Calle Mayor",
    "Strandvejen",
    "Maple Rd",
];
const PRODUCTS: &[(&str, &str, u32)] = &[
    ("TEE", "Organic cotton T-shirt", 1900),
    ("HOOD", "Hoodie \"Midnight\" edition", 5900),
    ("MUG", "Ceramic mug 350 ml", 1200),
    ("CAP", "Baseball cap", 2200),
    ("SOCK", "Wool socks (3-pack)", 1500),
    ("BAG", "Tote bag — canvas", 1800),
    ("BOT", "Insulated bottle 0.75 l", 2900),
    ("NOTE", "Notebook, dotted A5", 900),
    ("PEN", "Fountain pen ✒", 4500),
    ("LAMP", "Desk lamp (EU plug)", 7900),
    ("KBD", "Mechanical keyboard ⌨", 12900),
    ("MAT", "Yoga mat 6 mm", 3400),
    ("TEA", "Sencha green tea 緑茶 100 g", 1100),
    ("CHOC", "Dark chocolate 72% — 5 bars", 1600),
    ("BOOK", "Paperback: \"The Tail at Scale\"", 2400),
];
const SIZES: &[&str] = &["XS", "S", "M", "L", "XL"];
const NOTES: &[&str] = &[
    "Please leave at the back door \"by the shed\"",
    "Gift — don't include the invoice",
    "Call before delivery:\n+49 30 1234567",
    "Fragile!\tHandle with care",
    "Path: C:\\Users\\shared\\orders",
    "Merci beaucoup ☺",
    "配達前に電話してください",
    "Ring twice; dog is friendly 🐕",
];
const TAGS: &[&str] = &["vip", "newsletter", "wholesale", "returning", "b2b", "eu", "beta"];
const TIERS: &[&str] = &["free", "plus", "pro", "enterprise"];
const SHIPPING: &[(&str, u32)] = &[("standard", 490), ("express", 1290), ("pickup", 0)];

/// Seconds since the Unix epoch of 2026-01-01T00:00:00Z; orders are placed during 2026.
const YEAR_START: i64 = 1_767_225_600;

/// Generates an orders document of at least `size` bytes from `seed`.
///
/// The output is compact JSON with one order per line, so a parse error's line number
/// points at an order and diffs of the committed file stay readable.
pub fn generate_orders(seed: u64, size: usize) -> Vec<u8> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // Roughly one customer per 2.2 KiB of payload keeps orders-per-customer realistic.
    let n_customers = (size / 2200).clamp(20, 50_000);
    let customers: Vec<Value> = (0..n_customers).map(|i| customer(&mut rng, i)).collect();

    let mut out = Vec::with_capacity(size + 4096);
    out.extend_from_slice(b"{\"schema\":\"");
    out.extend_from_slice(ORDERS_SCHEMA.as_bytes());
    out.extend_from_slice(
        format!(
            "\",\"generator\":{{\"seed\":{seed},\"size\":{size}}},\"currency\":\"USD\",\n\"customers\":[\n"
        )
        .as_bytes(),
    );
    for (i, c) in customers.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(b",\n");
        }
        serde_json::to_writer(&mut out, c).expect("writing to a Vec cannot fail");
    }
    out.extend_from_slice(b"\n],\n\"orders\":[\n");
    let mut n = 0usize;
    // Keep adding orders until the closing bytes would take the document past `size`.
    while out.len() + 4 < size || n == 0 {
        if n > 0 {
            out.extend_from_slice(b",\n");
        }
        let o = order(&mut rng, n, n_customers);
        serde_json::to_writer(&mut out, &o).expect("writing to a Vec cannot fail");
        n += 1;
    }
    out.extend_from_slice(b"\n]}\n");
    out
}

fn pick<'a, T>(rng: &mut ChaCha8Rng, xs: &'a [T]) -> &'a T {
    &xs[rng.random_range(0..xs.len())]
}

fn address(rng: &mut ChaCha8Rng) -> Value {
    let (city, country) = *pick(rng, CITIES);
    let notes = if rng.random_bool(0.3) {
        Value::String((*pick(rng, NOTES)).to_string())
    } else {
        Value::Null
    };
    json!({
        "street": format!("{} {}", rng.random_range(1..400u32), pick(rng, STREETS)),
        "line2": if rng.random_bool(0.2) { Value::String(format!("Apt \"{}\"", rng.random_range(1..90u32))) } else { Value::Null },
        "city": city,
        "postcode": format!("{:05}", rng.random_range(1000..99_999u32)),
        "country": country,
        "geo": { "lat": f64::from(rng.random_range(-60_000_000..70_000_000i32)) / 1e6,
                 "lon": f64::from(rng.random_range(-170_000_000..170_000_000i32)) / 1e6 },
        "notes": notes,
    })
}

fn customer(rng: &mut ChaCha8Rng, i: usize) -> Value {
    let first = *pick(rng, FIRST);
    let last = *pick(rng, LAST);
    let n_tags = rng.random_range(0..3usize);
    let tags: Vec<&str> = (0..n_tags).map(|_| *pick(rng, TAGS)).collect();
    let email_local: String = format!("{first}.{last}")
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '.')
        .collect();
    json!({
        "id": format!("c{i:06}"),
        "name": format!("{first} {last}"),
        "email": format!("{email_local}{}@example.com", rng.random_range(1..1000u32)),
        "tier": pick(rng, TIERS),
        "created_at": utc_timestamp(YEAR_START - rng.random_range(0..3 * 365 * 86_400i64)),
        "marketing_opt_in": rng.random_bool(0.4),
        "lifetime_credit": if rng.random_bool(0.1) { json!(f64::from(rng.random_range(100..50_000u32)) / 100.0) } else { Value::Null },
        "address": address(rng),
        "tags": tags,
    })
}

fn order(rng: &mut ChaCha8Rng, i: usize, n_customers: usize) -> Value {
    // Skewed customer choice: a few customers place many orders (top-N is meaningful).
    let u: f64 = rng.random();
    let customer = ((u * u * u) * n_customers as f64) as usize;
    let placed = YEAR_START + rng.random_range(0..365 * 86_400i64);
    let n_items = 1 + (rng.random_range(0..100u32) / 30) as usize + rng.random_range(0..3usize);
    let items: Vec<Value> = (0..n_items)
        .map(|_| {
            let (sku, title, cents) = *pick(rng, PRODUCTS);
            let size = *pick(rng, SIZES);
            let price_cents = cents + rng.random_range(0..300u32);
            json!({
                "sku": format!("{sku}-{size}"),
                "title": title,
                "qty": 1 + rng.random_range(0..100u32) / 70 + rng.random_range(0..2u32),
                "unit_price": f64::from(price_cents) / 100.0,
                "discount": if rng.random_bool(0.25) { json!(f64::from(rng.random_range(5..30u32)) / 100.0) } else { Value::Null },
                "tax_rate": *pick(rng, &[0.0, 0.07, 0.19, 0.2, 0.21]),
                "backordered": rng.random_bool(0.05),
            })
        })
        .collect();
    let status = match rng.random_range(0..100u32) {
        0..=4 => "cancelled",
        5..=7 => "refunded",
        8..=14 => "pending",
        15..=34 => "paid",
        35..=59 => "shipped",
        _ => "delivered",
    };
    let mut events = vec![json!({"type": "placed", "at": utc_timestamp(placed), "by": "customer"})];
    let mut t = placed;
    let steps: &[&str] = match status {
        "cancelled" => &["cancelled"],
        "refunded" => &["paid", "refunded"],
        "pending" => &[],
        "paid" => &["paid"],
        "shipped" => &["paid", "shipped"],
        _ => &["paid", "shipped", "delivered"],
    };
    for step in steps {
        t += rng.random_range(600..4 * 86_400i64);
        let by = if *step == "cancelled" || *step == "refunded" {
            "support"
        } else {
            "system"
        };
        events.push(json!({"type": step, "at": utc_timestamp(t), "by": by}));
    }
    let (method, ship_cents) = *pick(rng, SHIPPING);
    json!({
        "id": format!("o{i:07}"),
        "customer_id": format!("c{customer:06}"),
        "placed_at": utc_timestamp(placed),
        "status": status,
        "channel": pick(rng, &["web", "ios", "android", "pos"]),
        "items": items,
        "shipping": {
            "method": method,
            "cost": f64::from(ship_cents) / 100.0,
            "address": if rng.random_bool(0.15) { address(rng) } else { Value::Null },
        },
        "coupon": if rng.random_bool(0.12) { json!(format!("SAVE{}", rng.random_range(5..30u32))) } else { Value::Null },
        "gift": rng.random_bool(0.08),
        "note": if rng.random_bool(0.1) { json!(pick(rng, NOTES)) } else { Value::Null },
        "events": events,
        "metrics": { "weight_kg": f64::from(rng.random_range(50..9000u32)) / 1000.0, "session_pages": rng.random_range(1..40u32) },
    })
}

/// Parses a human size such as `4MiB`, `512KiB`, `1.5MB` or `4194304` into bytes.
pub fn parse_size(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("'{s}' is not a size; use e.g. 4MiB, 512KiB or 4194304"))?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "kib" => 1024.0,
        "m" | "mb" => 1e6,
        "mib" => 1024.0 * 1024.0,
        "g" | "gb" => 1e9,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        other => {
            return Err(format!(
                "unknown size unit '{other}' in '{s}'; use B, KB, KiB, MB, MiB, GB or GiB"
            ));
        }
    };
    let bytes = n * mult;
    if !(1.0..=(1u64 << 34) as f64).contains(&bytes) {
        return Err(format!("size '{s}' must be between 1 byte and 16 GiB"));
    }
    Ok(bytes as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("4MiB").unwrap(), 4 * 1024 * 1024);
        assert_eq!(parse_size("512KiB").unwrap(), 512 * 1024);
        assert_eq!(parse_size("1000").unwrap(), 1000);
        assert!(parse_size("4 parsecs").is_err());
        assert!(parse_size("0").is_err());
    }

    #[test]
    fn small_documents_are_valid_json_and_deterministic() {
        let a = generate_orders(7, 50_000);
        let b = generate_orders(7, 50_000);
        assert_eq!(a, b);
        assert!(a.len() >= 50_000);
        let v: Value = serde_json::from_slice(&a).unwrap();
        assert_eq!(v["schema"], ORDERS_SCHEMA);
        assert_ne!(generate_orders(8, 50_000), a);
    }
}
