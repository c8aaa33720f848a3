//! `privlink-bench moto`: the comparable load against Moto's server (EC2 Query API, plain HTTP).
//! One op = CreateVpc, CreateSubnet in it, CreateVpcEndpoint (Interface) in that subnet:
//! 3 requests, each answered synchronously.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use tokio::time::Instant;

use crate::http::{run_workers, Bounds};
use crate::stats::{report, Recorder};

/// Moto picks the service from the credential scope; it does not check the signature.
const AUTHORIZATION: &str = "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20260101/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=x";
const VERSION: &str = "2016-11-15";

pub struct Settings {
    pub concurrency: usize,
    pub duration: Duration,
    pub max_ops: u64,
    /// `POST /moto-api/reset` first, so that every run starts from an empty Moto.
    pub reset: bool,
}

pub struct Moto {
    pub client: reqwest::Client,
    pub url: String,
}

/// The text of the first `<tag>...</tag>` in `xml`.
pub fn xml_value<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let len = xml[start..].find('<')?;
    Some(&xml[start..start + len])
}

impl Moto {
    /// POST one Query API action; returns the id found in `id_tag` of the response.
    async fn call(&self, params: &[(&str, &str)], id_tag: &str, rec: &mut Recorder) -> Result<String> {
        let action = params.first().map(|(_, v)| *v).unwrap_or("?");
        rec.requests += 1;
        let resp = self
            .client
            .post(&self.url)
            .header("authorization", AUTHORIZATION)
            .form(params)
            .send()
            .await
            .with_context(|| format!("{action}: request failed"))?;
        let status = resp.status();
        let text = resp.text().await.with_context(|| format!("{action}: reading the response"))?;
        if !status.is_success() {
            let code = xml_value(&text, "Code").unwrap_or("");
            let message = xml_value(&text, "Message").unwrap_or("");
            bail!("{action}: {status} {code} {message}");
        }
        match xml_value(&text, id_tag) {
            Some(id) if !id.is_empty() => Ok(id.to_string()),
            _ => bail!("{action}: no <{id_tag}> in the response"),
        }
    }

    async fn op(&self, rec: &mut Recorder) -> Result<()> {
        let vpc = self
            .call(&[("Action", "CreateVpc"), ("CidrBlock", "10.0.0.0/16"), ("Version", VERSION)], "vpcId", rec)
            .await?;
        let subnet = self
            .call(
                &[("Action", "CreateSubnet"), ("VpcId", &vpc), ("CidrBlock", "10.0.0.0/24"), ("Version", VERSION)],
                "subnetId",
                rec,
            )
            .await?;
        self.call(
            &[
                ("Action", "CreateVpcEndpoint"),
                ("VpcId", &vpc),
                ("VpcEndpointType", "Interface"),
                ("ServiceName", "com.amazonaws.us-east-1.s3"),
                ("SubnetId.1", &subnet),
                ("Version", VERSION),
            ],
            "vpcEndpointId",
            rec,
        )
        .await?;
        Ok(())
    }
}

pub async fn run(moto: Moto, settings: Settings) -> Result<Value> {
    if settings.reset {
        let url = format!("{}/moto-api/reset", moto.url.trim_end_matches('/'));
        let resp = moto.client.post(&url).send().await.context("resetting Moto")?;
        if !resp.status().is_success() {
            bail!("POST {url}: {}", resp.status());
        }
    }
    // One untimed op first: Moto loads its EC2 backend lazily on the first request.
    moto.op(&mut Recorder::default()).await.context("warm-up operation")?;
    let moto = Arc::new(moto);
    let bounds = Bounds::new(settings.duration, settings.max_ops);
    let (rec, elapsed) = run_workers(settings.concurrency, |_worker| {
        let (moto, bounds) = (moto.clone(), bounds.clone());
        async move {
            let mut rec = Recorder::default();
            while bounds.next() {
                let started = Instant::now();
                match moto.op(&mut rec).await {
                    Ok(()) => rec.ok("op", started.elapsed()),
                    Err(e) => rec.error("op", &e),
                }
            }
            rec
        }
    })
    .await?;
    let labels = json!({
        "bench": "moto",
        "target": "moto",
        "scenario": "vpc-subnet-endpoint",
        "concurrency": settings.concurrency,
        "duration_s": settings.duration.as_secs_f64(),
    });
    Ok(report(labels, &rec, elapsed))
}

#[cfg(test)]
mod tests {
    use super::xml_value;

    #[test]
    fn finds_the_first_tag() {
        let xml = "<r><vpc><cidrBlockAssociationSet><item><associationId>a-1</associationId></item></cidrBlockAssociationSet><vpcId>vpc-123</vpcId></vpc></r>";
        assert_eq!(xml_value(xml, "vpcId"), Some("vpc-123"));
        assert_eq!(xml_value(xml, "subnetId"), None);
        assert_eq!(xml_value("<vpcId>vpc-1", "vpcId"), None);
    }
}
