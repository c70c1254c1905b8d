# shp on Google Cloud with the module's defaults: Cloud Run in var.region,
# buckets and BigQuery datasets in var.location, a zonal Cloud SQL instance
# with a public IP reached only through the Cloud SQL connector.
# See deploy/README.md for the walkthrough.

module "shp" {
  source = "../../modules/shp"

  project_id                  = var.project_id
  region                      = var.region
  location                    = var.location
  image                       = var.image
  teams_webhook_url           = var.teams_webhook_url
  allow_unauthenticated       = var.allow_unauthenticated
  alert_notification_channels = var.alert_notification_channels
  api_key_secret_accessors    = var.api_key_secret_accessors

  labels = {
    env = "example"
  }
}
