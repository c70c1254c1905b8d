output "service_url" {
  description = "The web UI (/) and the REST API (/api/v1)."
  value       = module.shp.service_url
}

output "landing_bucket" {
  description = "Where files to load go."
  value       = module.shp.landing_bucket
}

output "staging_bucket" {
  description = "shp's staging bucket."
  value       = module.shp.staging_bucket
}

output "dataset_id" {
  description = "The BigQuery dataset of the targets."
  value       = module.shp.dataset_id
}

output "landing_subscription" {
  description = "The Pub/Sub subscription of new landing objects."
  value       = module.shp.landing_subscription
}

output "service_account_email" {
  description = "The service account shp runs as."
  value       = module.shp.service_account_email
}

output "sql_connection_name" {
  description = "For the Cloud SQL Auth Proxy (first API key)."
  value       = module.shp.sql_connection_name
}

output "metadata_dsn_secret" {
  description = "The secret holding SHP_METADATA_DSN."
  value       = module.shp.metadata_dsn_secret
}

output "admin_api_key_secret" {
  description = "The secret to keep the first admin API key in."
  value       = module.shp.admin_api_key_secret
}
