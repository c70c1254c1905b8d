# The service account's roles, each on the narrowest resource it works on.
# Project level only for what has no narrower scope. Never roles/editor or
# roles/owner (deploy/terraform_test.go checks it).

# Staging: shp writes, reads, lists and deletes staged objects; BigQuery load
# jobs read them with shp's credentials.
resource "google_storage_bucket_iam_member" "staging_object_admin" {
  bucket = google_storage_bucket.staging.name
  role   = "roles/storage.objectAdmin"
  member = local.sa_member
}

# Landing: shp lists and reads; it never writes or deletes there.
resource "google_storage_bucket_iam_member" "landing_object_viewer" {
  bucket = google_storage_bucket.landing.name
  role   = "roles/storage.objectViewer"
  member = local.sa_member
}

# BigQuery: tables, rows, staging tables and the ledger in the two datasets.
resource "google_bigquery_dataset_iam_member" "targets_editor" {
  project    = var.project_id
  dataset_id = google_bigquery_dataset.targets.dataset_id
  role       = "roles/bigquery.dataEditor"
  member     = local.sa_member
}

resource "google_bigquery_dataset_iam_member" "shp_editor" {
  project    = var.project_id
  dataset_id = google_bigquery_dataset.shp.dataset_id
  role       = "roles/bigquery.dataEditor"
  member     = local.sa_member
}

locals {
  # Roles granted at the project level: load and query jobs (BigQuery jobs
  # belong to a project), the Cloud SQL connector, and writing metrics, logs
  # and traces (the Prometheus sidecar writes metrics as the service).
  project_roles = toset([
    "roles/bigquery.jobUser",
    "roles/cloudsql.client",
    "roles/cloudtrace.agent",
    "roles/logging.logWriter",
    "roles/monitoring.metricWriter",
  ])
}

resource "google_project_iam_member" "shp" {
  for_each = local.project_roles

  project = var.project_id
  role    = each.value
  member  = local.sa_member
}

# Secrets: each secret the service reads, one binding each.
resource "google_secret_manager_secret_iam_member" "metadata_dsn" {
  project   = var.project_id
  secret_id = google_secret_manager_secret.metadata_dsn.secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = local.sa_member
}

resource "google_secret_manager_secret_iam_member" "teams_webhook" {
  project   = var.project_id
  secret_id = google_secret_manager_secret.teams_webhook.secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = local.sa_member
}

# The admin API key: people, not shp.
resource "google_secret_manager_secret_iam_member" "admin_api_key" {
  for_each = toset(var.api_key_secret_accessors)

  project   = var.project_id
  secret_id = google_secret_manager_secret.admin_api_key.secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = each.value
}

# Pub/Sub: the landing subscription, for the subscriber shp serve will have
# (events:, not yet implemented in this release).
resource "google_pubsub_subscription_iam_member" "landing_subscriber" {
  project      = var.project_id
  subscription = google_pubsub_subscription.landing.name
  role         = "roles/pubsub.subscriber"
  member       = local.sa_member
}

# Who may call the service through Cloud Run.
resource "google_cloud_run_v2_service_iam_member" "public" {
  count = var.allow_unauthenticated ? 1 : 0

  project  = var.project_id
  location = var.region
  name     = google_cloud_run_v2_service.shp.name
  role     = "roles/run.invoker"
  member   = "allUsers"
}

resource "google_cloud_run_v2_service_iam_member" "invokers" {
  for_each = toset(var.invokers)

  project  = var.project_id
  location = var.region
  name     = google_cloud_run_v2_service.shp.name
  role     = "roles/run.invoker"
  member   = each.value
}
