//! The orders transform: per-customer and per-day aggregates, filters, sorts, top-N and
//! derived fields over a parsed orders document.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;

/// How many entries the top-N lists keep.
const TOP_N: usize = 25;

/// Statuses that count as revenue.
const REVENUE_STATUSES: &[&str] = &["paid", "shipped", "delivered"];

/// The result of the orders transform (what gets serialized and digested).
#[derive(Debug, Serialize)]
pub struct OrdersReport {
    /// Orders in the document.
    pub orders: u64,
    /// Orders whose status counts as revenue.
    pub revenue_orders: u64,
    /// Sum of revenue-order totals, in currency units.
    pub revenue: f64,
    /// Mean revenue-order total.
    pub mean_order_value: f64,
    /// Median revenue-order total.
    pub median_order_value: f64,
    /// 95th percentile of revenue-order totals.
    pub p95_order_value: f64,
    /// Median hours from placement to delivery, over delivered orders.
    pub median_delivery_hours: Option<f64>,
    /// Orders per status.
    pub by_status: BTreeMap<String, u64>,
    /// Per-day aggregates, by `YYYY-MM-DD`.
    pub by_day: BTreeMap<String, DayAggregate>,
    /// Revenue per shipping country.
    pub by_country: BTreeMap<String, f64>,
    /// Customers with the highest revenue.
    pub top_customers: Vec<CustomerAggregate>,
    /// SKUs with the highest quantity sold.
    pub top_skus: Vec<SkuAggregate>,
    /// The largest single orders.
    pub top_orders: Vec<OrderLine>,
    /// Revenue orders of at least 250 currency units with a coupon (a filter example).
    pub large_coupon_orders: u64,
}

/// Per-day figures.
#[derive(Debug, Default, Serialize)]
pub struct DayAggregate {
    /// Revenue orders placed that day.
    pub orders: u64,
    /// Their total revenue.
    pub revenue: f64,
    /// Items (quantities) in them.
    pub items: u64,
    /// Distinct customers who ordered.
    pub customers: u64,
    /// Orders cancelled or refunded.
    pub lost: u64,
}

/// Per-customer figures.
#[derive(Debug, Clone, Serialize)]
pub struct CustomerAggregate {
    /// Customer id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Pricing tier.
    pub tier: String,
    /// Revenue orders.
    pub orders: u64,
    /// Their total.
    pub revenue: f64,
    /// Mean order value.
    pub average: f64,
    /// First order day.
    pub first: String,
    /// Last order day.
    pub last: String,
}

/// Per-SKU figures.
#[derive(Debug, Clone, Serialize)]
pub struct SkuAggregate {
    /// Stock keeping unit.
    pub sku: String,
    /// Quantity sold.
    pub qty: u64,
    /// Revenue before tax.
    pub revenue: f64,
}

/// One order with its derived fields.
#[derive(Debug, Clone, Serialize)]
pub struct OrderLine {
    /// Order id.
    pub id: String,
    /// Customer id.
    pub customer: String,
    /// Subtotal after discounts, before tax.
    pub subtotal: f64,
    /// Tax.
    pub tax: f64,
    /// Grand total including shipping.
    pub total: f64,
}

#[derive(Default)]
struct CustAcc<'a> {
    orders: u64,
    revenue: f64,
    first: &'a str,
    last: &'a str,
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

fn f(v: &Value, key: &str) -> f64 {
    v.get(key).and_then(Value::as_f64).unwrap_or(0.0)
}

/// Seconds since the epoch of an RFC 3339 `YYYY-MM-DDTHH:MM:SSZ` timestamp.
fn epoch_seconds(ts: &str) -> Option<i64> {
    let b = ts.as_bytes();
    if b.len() < 19 {
        return None;
    }
    let num = |r: std::ops::Range<usize>| ts.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    // Days from civil (H. Hinnant).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss)
}

fn percentile_sorted(xs: &[f64], p: f64) -> f64 {
    if xs.is_empty() {
        return 0.0;
    }
    let rank = ((p * xs.len() as f64).ceil() as usize).clamp(1, xs.len());
    xs[rank - 1]
}

/// The running aggregates of one pass over the orders, borrowing the document's strings.
struct Pass<'a> {
    directory: BTreeMap<&'a str, &'a Value>,
    by_status: BTreeMap<String, u64>,
    by_day: BTreeMap<String, DayAggregate>,
    day_customers: BTreeMap<&'a str, BTreeSet<&'a str>>,
    by_country: BTreeMap<String, f64>,
    custs: BTreeMap<&'a str, CustAcc<'a>>,
    skus: BTreeMap<&'a str, (u64, f64)>,
    lines: Vec<OrderLine>,
    delivery_hours: Vec<f64>,
    large_coupon_orders: u64,
}

/// Adds an order's items to the per-SKU figures; returns its subtotal after discounts,
/// its tax and its quantity.
fn add_items<'a>(skus: &mut BTreeMap<&'a str, (u64, f64)>, items: &'a [Value]) -> (f64, f64, u64) {
    let (mut subtotal, mut tax, mut qty_total) = (0.0, 0.0, 0u64);
    for item in items {
        let qty = item.get("qty").and_then(Value::as_u64).unwrap_or(0);
        let net = qty as f64 * f(item, "unit_price") * (1.0 - f(item, "discount"));
        subtotal += net;
        tax += net * f(item, "tax_rate");
        qty_total += qty;
        let e = skus.entry(s(item, "sku")).or_default();
        e.0 += qty;
        e.1 += net;
    }
    (subtotal, tax, qty_total)
}

/// Hours from placement to the order's `delivered` event, if it has one.
fn delivery_hours(o: &Value, placed: &str) -> Option<f64> {
    let events = o.get("events").and_then(Value::as_array)?;
    let delivered = events.iter().find(|e| s(e, "type") == "delivered")?;
    let (a, b) = (epoch_seconds(placed)?, epoch_seconds(s(delivered, "at"))?);
    Some((b - a) as f64 / 3600.0)
}

impl<'a> Pass<'a> {
    fn new(customers: &'a [Value]) -> Pass<'a> {
        Pass {
            directory: customers.iter().map(|c| (s(c, "id"), c)).collect(),
            by_status: BTreeMap::new(),
            by_day: BTreeMap::new(),
            day_customers: BTreeMap::new(),
            by_country: BTreeMap::new(),
            custs: BTreeMap::new(),
            skus: BTreeMap::new(),
            lines: Vec::new(),
            delivery_hours: Vec::new(),
            large_coupon_orders: 0,
        }
    }

    /// Counts one order: its status and day always, the rest when it counts as revenue.
    fn add(&mut self, o: &'a Value) {
        let status = s(o, "status");
        *self.by_status.entry(status.to_string()).or_default() += 1;
        let placed = s(o, "placed_at");
        let day = placed.get(..10).unwrap_or("unknown");
        let customer = s(o, "customer_id");
        let day_agg = self.by_day.entry(day.to_string()).or_default();
        if status == "cancelled" || status == "refunded" {
            day_agg.lost += 1;
        }
        if !REVENUE_STATUSES.contains(&status) {
            return;
        }
        let items = o
            .get("items")
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice);
        let (subtotal, tax, qty_total) = add_items(&mut self.skus, items);
        let shipping = o.get("shipping").unwrap_or(&Value::Null);
        let total = subtotal + tax + f(shipping, "cost");
        let country = shipping
            .get("address")
            .filter(|a| !a.is_null())
            .or_else(|| self.directory.get(customer).and_then(|c| c.get("address")))
            .map(|a| s(a, "country"))
            .unwrap_or("??");
        *self.by_country.entry(country.to_string()).or_default() += total;
        if total >= 250.0 && o.get("coupon").is_some_and(|c| !c.is_null()) {
            self.large_coupon_orders += 1;
        }
        if let Some(h) = delivery_hours(o, placed) {
            self.delivery_hours.push(h);
        }
        day_agg.orders += 1;
        day_agg.revenue += total;
        day_agg.items += qty_total;
        self.day_customers.entry(day).or_default().insert(customer);
        let c = self.custs.entry(customer).or_default();
        c.orders += 1;
        c.revenue += total;
        if c.first.is_empty() || day < c.first {
            c.first = day;
        }
        if day > c.last {
            c.last = day;
        }
        self.lines.push(OrderLine {
            id: s(o, "id").to_string(),
            customer: customer.to_string(),
            subtotal: round2(subtotal),
            tax: round2(tax),
            total: round2(total),
        });
    }

    /// The customers with the highest revenue, with their directory names and tiers.
    fn top_customers(
        custs: BTreeMap<&str, CustAcc>,
        directory: &BTreeMap<&str, &Value>,
    ) -> Vec<CustomerAggregate> {
        let mut top: Vec<CustomerAggregate> = custs
            .into_iter()
            .map(|(id, c)| {
                let entry = directory.get(id);
                CustomerAggregate {
                    id: id.to_string(),
                    name: entry.map(|e| s(e, "name")).unwrap_or("").to_string(),
                    tier: entry.map(|e| s(e, "tier")).unwrap_or("").to_string(),
                    orders: c.orders,
                    revenue: round2(c.revenue),
                    average: round2(c.revenue / c.orders as f64),
                    first: c.first.to_string(),
                    last: c.last.to_string(),
                }
            })
            .collect();
        top.sort_by(|a, b| b.revenue.total_cmp(&a.revenue).then(a.id.cmp(&b.id)));
        top.truncate(TOP_N);
        top
    }

    /// The SKUs with the highest quantity sold.
    fn top_skus(skus: BTreeMap<&str, (u64, f64)>) -> Vec<SkuAggregate> {
        let mut top: Vec<SkuAggregate> = skus
            .into_iter()
            .map(|(sku, (qty, rev))| SkuAggregate {
                sku: sku.to_string(),
                qty,
                revenue: round2(rev),
            })
            .collect();
        top.sort_by(|a, b| b.qty.cmp(&a.qty).then(a.sku.cmp(&b.sku)));
        top.truncate(TOP_N);
        top
    }

    /// The report of the `orders` orders seen.
    fn finish(self, orders: u64) -> OrdersReport {
        let Pass {
            directory,
            by_status,
            mut by_day,
            day_customers,
            by_country,
            custs,
            skus,
            mut lines,
            mut delivery_hours,
            large_coupon_orders,
        } = self;
        for (day, set) in day_customers {
            if let Some(agg) = by_day.get_mut(day) {
                agg.customers = set.len() as u64;
                agg.revenue = round2(agg.revenue);
            }
        }
        let mut totals: Vec<f64> = lines.iter().map(|l| l.total).collect();
        totals.sort_by(f64::total_cmp);
        let revenue: f64 = totals.iter().sum();
        delivery_hours.sort_by(f64::total_cmp);
        let top_customers = Pass::top_customers(custs, &directory);
        let top_skus = Pass::top_skus(skus);
        let revenue_orders = lines.len() as u64;
        lines.sort_by(|a, b| b.total.total_cmp(&a.total).then(a.id.cmp(&b.id)));
        lines.truncate(TOP_N);
        OrdersReport {
            orders,
            revenue_orders,
            revenue: round2(revenue),
            mean_order_value: if revenue_orders > 0 {
                round2(revenue / revenue_orders as f64)
            } else {
                0.0
            },
            median_order_value: percentile_sorted(&totals, 0.5),
            p95_order_value: percentile_sorted(&totals, 0.95),
            median_delivery_hours: (!delivery_hours.is_empty())
                .then(|| round2(percentile_sorted(&delivery_hours, 0.5))),
            by_status,
            by_day,
            by_country: by_country.into_iter().map(|(k, v)| (k, round2(v))).collect(),
            top_customers,
            top_skus,
            top_orders: lines,
            large_coupon_orders,
        }
    }
}

/// Runs the orders transform over a parsed orders document.
pub fn transform(doc: &Value) -> OrdersReport {
    let array = |key: &str| {
        doc.get(key)
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice)
    };
    let orders = array("orders");
    let mut pass = Pass::new(array("customers"));
    for o in orders {
        pass.add(o);
    }
    pass.finish(orders.len() as u64)
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn epoch_matches_known_instants() {
        assert_eq!(epoch_seconds("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(epoch_seconds("2026-01-01T00:00:00Z"), Some(1_767_225_600));
        assert_eq!(epoch_seconds("garbage"), None);
    }

    #[test]
    fn aggregates_a_tiny_document() {
        let doc = json!({
            "customers": [{"id": "c1", "name": "Zoë", "tier": "pro", "address": {"country": "DE"}}],
            "orders": [
                {"id": "o1", "customer_id": "c1", "placed_at": "2026-02-01T10:00:00Z", "status": "delivered",
                 "items": [{"sku": "A", "qty": 2, "unit_price": 10.0, "discount": null, "tax_rate": 0.1}],
                 "shipping": {"cost": 5.0, "address": null}, "coupon": null,
                 "events": [{"type": "delivered", "at": "2026-02-02T10:00:00Z"}]},
                {"id": "o2", "customer_id": "c1", "placed_at": "2026-02-01T11:00:00Z", "status": "cancelled",
                 "items": [], "shipping": {"cost": 0.0}}
            ]
        });
        let r = transform(&doc);
        assert_eq!(r.orders, 2);
        assert_eq!(r.revenue_orders, 1);
        assert_eq!(r.revenue, 27.0);
        assert_eq!(r.median_delivery_hours, Some(24.0));
        assert_eq!(r.by_day["2026-02-01"].lost, 1);
        assert_eq!(r.by_country["DE"], 27.0);
        assert_eq!(r.top_customers[0].name, "Zoë");
        assert_eq!(r.top_skus[0].qty, 2);
    }
}
