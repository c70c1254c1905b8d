# Secrets shp reads from its environment (config.yaml's ${VAR}), kept in
# Secret Manager and given to the Cloud Run service as environment variables.
# Their values are also in the Terraform state: keep the state private
# (a bucket with uniform access, versioning and no public access).

# SHP_METADATA_DSN: the metadata store's DSN, password included.
resource "google_secret_manager_secret" "metadata_dsn" {
  project   = var.project_id
  secret_id = "${var.name_prefix}-metadata-dsn"
  labels    = local.labels

  replication {
    auto {}
  }

  depends_on = [google_project_service.apis]
}

resource "google_secret_manager_secret_version" "metadata_dsn" {
  secret      = google_secret_manager_secret.metadata_dsn.id
  secret_data = local.metadata_dsn
}

# TEAMS_WEBHOOK_URL: monitoring.yaml's Teams receiver. Created always, given
# a version (and the service the variable) only when teams_webhook_url is set.
resource "google_secret_manager_secret" "teams_webhook" {
  project   = var.project_id
  secret_id = "${var.name_prefix}-teams-webhook-url"
  labels    = local.labels

  replication {
    auto {}
  }

  depends_on = [google_project_service.apis]
}

locals {
  teams_enabled = nonsensitive(var.teams_webhook_url != "")
}

resource "google_secret_manager_secret_version" "teams_webhook" {
  count = local.teams_enabled ? 1 : 0

  secret      = google_secret_manager_secret.teams_webhook.id
  secret_data = var.teams_webhook_url
}

# The first admin API key. shp has no variable that seeds a key: an operator
# runs shp apikey create once (deploy/README.md) and adds what it printed as
# this secret's version, so that the key is kept somewhere safe. shp never
# reads it; api_key_secret_accessors may.
resource "google_secret_manager_secret" "admin_api_key" {
  project   = var.project_id
  secret_id = "${var.name_prefix}-admin-api-key"
  labels    = local.labels

  replication {
    auto {}
  }

  depends_on = [google_project_service.apis]
}
