# shp on Google Cloud: one Cloud Run service running shp serve (scheduler,
# REST API, web UI, /metrics) with a Managed Service for Prometheus sidecar,
# a landing and a staging bucket, BigQuery datasets, a Cloud SQL for
# PostgreSQL metadata store, its secrets in Secret Manager, and a service
# account with per-resource roles. See deploy/README.md.

locals {
  landing_bucket = coalesce(var.landing_bucket_name, "${var.project_id}-${var.name_prefix}-landing")
  staging_bucket = coalesce(var.staging_bucket_name, "${var.project_id}-${var.name_prefix}-staging")

  labels = merge({ app = "shp", managed-by = "terraform" }, var.labels)

  # The Cloud SQL instance has a private IP only when a VPC is given.
  private_sql = var.sql_private_network != null

  sa_member = "serviceAccount:${google_service_account.shp.email}"

  apis = toset([
    "bigquery.googleapis.com",
    "cloudtrace.googleapis.com",
    "iam.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "sqladmin.googleapis.com",
    "storage.googleapis.com",
  ])
}

resource "google_project_service" "apis" {
  for_each = var.enable_apis ? local.apis : toset([])

  project            = var.project_id
  service            = each.value
  disable_on_destroy = false
}

# The identity shp runs as. It gets roles on the resources it uses (iam.tf),
# and at the project level only what has no narrower scope.
resource "google_service_account" "shp" {
  project      = var.project_id
  account_id   = "${var.name_prefix}-runtime"
  display_name = "shp (Cloud Run service ${var.name_prefix})"
  description  = "Runs shp serve: reads the landing bucket, writes the staging bucket and the BigQuery datasets, connects to the metadata store."

  depends_on = [google_project_service.apis]
}
