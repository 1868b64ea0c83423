terraform {
  # 1.9: variable validations that refer to other variables (the construct's cross-prop rules).
  required_version = ">= 1.9"
  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 5.27: logging_config on aws_lambda_function; 5.x: aws_lambda_invocation lifecycle_scope.
      version = ">= 5.27, < 6.0"
    }
  }
}
