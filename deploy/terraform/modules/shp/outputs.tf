output "service_url" {
  description = "The Cloud Run service's URL: the web UI at /, the REST API under /api/v1."
  value       = google_cloud_run_v2_service.shp.uri
}

output "service_name" {
  description = "The Cloud Run service's name."
  value       = google_cloud_run_v2_service.shp.name
}

output "service_account_email" {
  description = "The service account shp runs as."
  value       = google_service_account.shp.email
}

output "landing_bucket" {
  description = "The landing bucket's name: files to load go here (gs://NAME/sales/ for the sample project)."
  value       = google_storage_bucket.landing.name
}

output "staging_bucket" {
  description = "The staging bucket's name (config.yaml's staging.url: gs://NAME/staging)."
  value       = google_storage_bucket.staging.name
}

output "dataset_id" {
  description = "The BigQuery dataset of the targets."
  value       = google_bigquery_dataset.targets.dataset_id
}

output "shp_dataset_id" {
  description = "The BigQuery dataset of shp's own tables."
  value       = google_bigquery_dataset.shp.dataset_id
}

output "landing_topic" {
  description = "The Pub/Sub topic new landing objects are announced on."
  value       = google_pubsub_topic.landing.id
}

output "landing_subscription" {
  description = "The Pub/Sub subscription of landing objects, which shp serve runs pipelines from (events.subscription)."
  value       = google_pubsub_subscription.landing.id
}

output "sql_connection_name" {
  description = "The metadata store's connection name (PROJECT:REGION:INSTANCE), for the Cloud SQL Auth Proxy."
  value       = google_sql_database_instance.metadata.connection_name
}

output "metadata_dsn_secret" {
  description = "The Secret Manager secret holding the metadata store's DSN (SHP_METADATA_DSN)."
  value       = google_secret_manager_secret.metadata_dsn.secret_id
}

output "teams_webhook_secret" {
  description = "The Secret Manager secret holding the Teams webhook URL (TEAMS_WEBHOOK_URL)."
  value       = google_secret_manager_secret.teams_webhook.secret_id
}

output "admin_api_key_secret" {
  description = "The Secret Manager secret to keep the first admin API key in."
  value       = google_secret_manager_secret.admin_api_key.secret_id
}

output "environment" {
  description = "The environment variables the service sets besides the secrets: what a project's config.yaml may read."
  value       = local.shp_env
}
