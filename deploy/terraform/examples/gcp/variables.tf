variable "project_id" {
  type        = string
  description = "The Google Cloud project to deploy shp into."
}

variable "region" {
  type        = string
  description = "The region of the Cloud Run service and the Cloud SQL instance."
  default     = "europe-west1"
}

variable "location" {
  type        = string
  description = "The location of the buckets and the BigQuery datasets."
  default     = "EU"
}

variable "image" {
  type        = string
  description = "The shp image pushed to Artifact Registry, such as europe-west1-docker.pkg.dev/PROJECT/shp/shp:v1.2.3."
}

variable "teams_webhook_url" {
  type        = string
  description = "A Microsoft Teams Workflows webhook URL for shp's incidents; empty for none."
  default     = ""
  sensitive   = true
}

variable "allow_unauthenticated" {
  type        = bool
  description = "Let browsers reach the web UI without Cloud Run IAM (shp's API keys and OpenID Connect still apply)."
  default     = false
}

variable "alert_notification_channels" {
  type        = list(string)
  description = "Cloud Monitoring notification channels for the alert policies."
  default     = []
}

variable "api_key_secret_accessors" {
  type        = list(string)
  description = "Who may read the admin API key secret, such as group:platform@example.com."
  default     = []
}
