# Cloud Monitoring: shp's four dashboards, alert policies in PromQL over the
# metrics the sidecar collects, and log-based metrics of shp's error lines.

# The four dashboards shp export cloud-monitoring writes (committed in
# dashboards/; regenerate them with
#   go run ./cmd/shp export cloud-monitoring --out deploy/terraform/modules/shp/dashboards).
resource "google_monitoring_dashboard" "shp" {
  for_each = fileset("${path.module}/dashboards", "*.json")

  project        = var.project_id
  dashboard_json = file("${path.module}/dashboards/${each.value}")

  depends_on = [google_project_service.apis]
}

locals {
  # The expressions of shp export prometheus-rules (internal/monitor), with
  # the recording rule shp:healing_actions_waiting written out, since Cloud
  # Monitoring has no recording rules. deploy/terraform_test.go checks that
  # they match.
  promql = {
    ShpRunFailed       = "shp_pipeline_last_run_status{status=\"failed\"} == 1"
    ShpRunHeld         = "shp_pipeline_last_run_status{status=\"held\"} == 1"
    ShpApprovalPending = "sum by (pipeline) (shp_healing_actions{outcome=~\"proposed|escalated\"}) > 0"
    ShpQualityDrop     = "quantile_over_time(0.5, shp_pipeline_quality_score[7d]) - shp_pipeline_quality_score > 3.5 * stddev_over_time(shp_pipeline_quality_score[7d]) > 0"
  }

  # Stale data: pipelines with a limit of their own are left out of the
  # default policy and get one each.
  stale_overrides = var.data_stale_after_seconds_by_pipeline
  stale_selector  = length(local.stale_overrides) == 0 ? "" : "{pipeline!~\"${join("|", sort(keys(local.stale_overrides)))}\"}"

  alert_policies = merge(
    {
      run_failed = {
        alert    = "ShpRunFailed"
        name     = "shp: the last run of a pipeline failed"
        severity = "CRITICAL"
        class    = "failure"
        query    = local.promql.ShpRunFailed
        duration = "0s"
        doc      = "The last run of $${metric.label.pipeline} failed. See its error: `shp runs --pipeline PIPELINE --status failed`, then `shp runs show RUN_ID`, or the web UI's run page."
      }
      run_held = {
        alert    = "ShpRunHeld"
        name     = "shp: a run is held for a decision"
        severity = "WARNING"
        class    = "decision"
        query    = local.promql.ShpRunHeld
        duration = "0s"
        doc      = "The last run of $${metric.label.pipeline} waits for a person to approve or reject a repair: `shp healing actions --status proposed`, or the web UI's Self-Healing page."
      }
      approval_pending = {
        alert    = "ShpApprovalPending"
        name     = "shp: healing actions wait for a person"
        severity = "WARNING"
        class    = "decision"
        query    = local.promql.ShpApprovalPending
        duration = "0s"
        doc      = "Healing actions of $${metric.label.pipeline} are proposed or escalated: `shp healing actions --pipeline PIPELINE`, then approve, reject or resolve them (API or web UI)."
      }
      quality_drop = {
        alert    = "ShpQualityDrop"
        name     = "shp: a pipeline's quality score dropped"
        severity = "WARNING"
        class    = "data"
        query    = local.promql.ShpQualityDrop
        duration = "0s"
        doc      = "The quality score of $${metric.label.pipeline} is far below its median of the last 7 days: `shp quality metrics --pipeline PIPELINE`, or the web UI's Data Quality page."
      }
      data_stale = {
        alert    = "ShpDataStale"
        name     = "shp: a pipeline's data is stale"
        severity = "WARNING"
        class    = "failure"
        query    = "shp_pipeline_seconds_since_success${local.stale_selector} > ${var.data_stale_after_seconds}"
        duration = "0s"
        doc      = "$${metric.label.pipeline} has not succeeded for longer than ${var.data_stale_after_seconds} s: `shp runs --pipeline PIPELINE`."
      }
    },
    {
      for pipeline, seconds in local.stale_overrides : "data_stale_${pipeline}" => {
        alert    = "ShpDataStale"
        name     = "shp: the data of ${pipeline} is stale"
        severity = "WARNING"
        class    = "failure"
        query    = "shp_pipeline_seconds_since_success{pipeline=\"${pipeline}\"} > ${seconds}"
        duration = "0s"
        doc      = "${pipeline} has not succeeded for longer than ${seconds} s: `shp runs --pipeline ${pipeline}`."
      }
    },
  )
}

resource "google_monitoring_alert_policy" "shp" {
  for_each = local.alert_policies

  project               = var.project_id
  display_name          = each.value.name
  combiner              = "OR"
  enabled               = true
  severity              = each.value.severity
  notification_channels = var.alert_notification_channels
  user_labels           = local.labels

  conditions {
    display_name = each.value.name

    condition_prometheus_query_language {
      query               = each.value.query
      duration            = each.value.duration
      evaluation_interval = "60s"
      rule_group          = "shp"
      alert_rule          = each.value.alert
      labels = {
        severity = lower(each.value.severity)
        class    = each.value.class
      }
      # The metrics exist only once shp has been scraped: without this the
      # first apply would fail on metrics Cloud Monitoring has not seen.
      disable_metric_validation = true
    }
  }

  alert_strategy {
    auto_close = "86400s"
  }

  documentation {
    content   = each.value.doc
    mime_type = "text/markdown"
  }

  depends_on = [google_project_service.apis]
}

# ---- log-based metrics -------------------------------------------------------
#
# shp serve writes Cloud Logging's JSON lines (--log-format json): severity,
# message, and pipeline and run_id on a run's lines. In PromQL these read as
# logging_googleapis_com:user_<name>.

locals {
  run_logs = join(" AND ", [
    "resource.type=\"cloud_run_revision\"",
    "resource.labels.service_name=\"${google_cloud_run_v2_service.shp.name}\"",
  ])
}

resource "google_logging_metric" "errors" {
  project     = var.project_id
  name        = "${replace(var.name_prefix, "-", "_")}_errors"
  description = "Lines of severity ERROR or above that the shp service wrote, by pipeline (empty for the server's own)."
  filter      = "${local.run_logs} AND severity>=ERROR"

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "shp error log lines"

    labels {
      key         = "pipeline"
      value_type  = "STRING"
      description = "The pipeline the line is about."
    }
  }

  label_extractors = {
    pipeline = "EXTRACT(jsonPayload.pipeline)"
  }

  depends_on = [google_project_service.apis]
}

resource "google_logging_metric" "run_failures" {
  project     = var.project_id
  name        = "${replace(var.name_prefix, "-", "_")}_run_failures"
  description = "Failed runs (each attempt), from the runner's \"run failed\" line, which carries the run_id."
  filter      = "${local.run_logs} AND severity=ERROR AND jsonPayload.message=\"run failed\" AND jsonPayload.run_id:*"

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "shp failed runs (logs)"

    labels {
      key         = "pipeline"
      value_type  = "STRING"
      description = "The pipeline whose run failed."
    }
  }

  label_extractors = {
    pipeline = "EXTRACT(jsonPayload.pipeline)"
  }

  depends_on = [google_project_service.apis]
}
