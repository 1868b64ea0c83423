# autoheal for the groups named on the command line, with every other setting at its default:
#
#   npm run build            # in the autoheal folder: writes dist/lambda.zip, the healer's archive
#   terraform init && terraform apply -var 'group_names=["my-workers"]'
#
# The provider takes the standard AWS environment (AWS_REGION, AWS_PROFILE or credentials,
# AWS_ENDPOINT_URL); nothing else is needed.

terraform {
  required_version = ">= 1.9"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.27, < 6.0"
    }
  }
}

provider "aws" {}

variable "group_names" {
  description = "The Auto Scaling groups autoheal manages by name (groups with the tag autoheal:enabled=true are managed too)."
  type        = list(string)
}

variable "notification_email" {
  description = "An e-mail address subscribed to the alert topic."
  type        = string
  default     = null
}

module "autoheal" {
  # From an installed package: source = "./node_modules/autoheal/deploy/terraform"
  source             = "../../deploy/terraform"
  group_names        = var.group_names
  notification_email = var.notification_email
}

output "alert_topic_arn" {
  value = module.autoheal.alert_topic_arn
}

output "healer_function_name" {
  value = module.autoheal.healer_function_name
}

output "healer_log_group_name" {
  value = module.autoheal.healer_log_group_name
}

output "stack_health_topic_arn" {
  value = module.autoheal.stack_health_topic_arn
}

output "dashboard_name" {
  value = module.autoheal.dashboard_name
}
