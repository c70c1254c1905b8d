# The landing bucket: files arrive here (from producers, gsutil, transfers)
# and shp reads them. Versioned, so an overwritten or deleted file can be
# recovered for landing_noncurrent_retention_days.
resource "google_storage_bucket" "landing" {
  project                     = var.project_id
  name                        = local.landing_bucket
  location                    = var.location
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false
  labels                      = local.labels

  versioning {
    enabled = true
  }

  # Older files cost less once they are rarely read.
  lifecycle_rule {
    condition {
      age = var.landing_nearline_after_days
    }
    action {
      type          = "SetStorageClass"
      storage_class = "NEARLINE"
    }
  }

  # Overwritten and deleted versions go after a while.
  lifecycle_rule {
    condition {
      days_since_noncurrent_time = var.landing_noncurrent_retention_days
    }
    action {
      type = "Delete"
    }
  }

  # Files themselves only when asked (landing_retention_days).
  dynamic "lifecycle_rule" {
    for_each = var.landing_retention_days == null ? [] : [var.landing_retention_days]
    content {
      condition {
        age = lifecycle_rule.value
      }
      action {
        type = "Delete"
      }
    }
  }

  lifecycle {
    precondition {
      condition     = length(local.landing_bucket) <= 63
      error_message = "The landing bucket's name is longer than 63 characters: set landing_bucket_name."
    }
  }

  depends_on = [google_project_service.apis]
}

# The staging bucket (config.yaml's staging.url): shp's copies of what it
# loads, read again by BigQuery load jobs and by a resumed run. Deleted
# after staging_retention_days; no versions, no soft delete (the objects
# churn and are copies).
resource "google_storage_bucket" "staging" {
  project                     = var.project_id
  name                        = local.staging_bucket
  location                    = var.location
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false
  labels                      = local.labels

  versioning {
    enabled = false
  }

  soft_delete_policy {
    retention_duration_seconds = 0
  }

  lifecycle_rule {
    condition {
      age = var.staging_retention_days
    }
    action {
      type = "Delete"
    }
  }

  lifecycle {
    precondition {
      condition     = length(local.staging_bucket) <= 63
      error_message = "The staging bucket's name is longer than 63 characters: set staging_bucket_name."
    }
  }

  depends_on = [google_project_service.apis]
}

# ---- event-driven runs: new landing objects announced on Pub/Sub ------------
#
# Every object finalized in the landing bucket is published to this topic.
# The subscription is for shp serve's subscriber, configured by events: in
# config.yaml, which is not yet implemented in this release: until then the
# messages wait in the subscription (kept message_retention_duration) and the
# schedules load the files.

resource "google_pubsub_topic" "landing" {
  project = var.project_id
  name    = "${var.name_prefix}-landing-objects"
  labels  = local.labels

  depends_on = [google_project_service.apis]
}

# Cloud Storage publishes as its project service agent.
data "google_storage_project_service_account" "gcs" {
  project = var.project_id

  depends_on = [google_project_service.apis]
}

resource "google_pubsub_topic_iam_member" "gcs_publisher" {
  project = var.project_id
  topic   = google_pubsub_topic.landing.name
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:${data.google_storage_project_service_account.gcs.email_address}"
}

resource "google_storage_notification" "landing" {
  bucket             = google_storage_bucket.landing.name
  payload_format     = "JSON_API_V1"
  topic              = google_pubsub_topic.landing.id
  event_types        = ["OBJECT_FINALIZE"]
  object_name_prefix = var.landing_notification_prefix == "" ? null : var.landing_notification_prefix

  depends_on = [google_pubsub_topic_iam_member.gcs_publisher]
}

resource "google_pubsub_subscription" "landing" {
  project                    = var.project_id
  name                       = "${var.name_prefix}-landing-objects"
  topic                      = google_pubsub_topic.landing.id
  ack_deadline_seconds       = 60
  message_retention_duration = "604800s"
  retain_acked_messages      = false
  labels                     = local.labels

  # Never expires, even while nothing reads it.
  expiration_policy {
    ttl = ""
  }

  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }
}
