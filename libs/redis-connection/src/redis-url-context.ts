/** What goes with a URL: the settings kombu reads next to it, and their names for messages. */
export interface RedisUrlContext {
  /** The setting the URL came from (`broker_url`, `result_backend`, `--broker`). */
  setting?: string;
  /** `broker_transport_options` / `result_backend_transport_options` (master_name, sentinel_kwargs). */
  transportOptions?: unknown;
  transportOptionsSetting?: string;
  /** `broker_use_ssl` / `redis_backend_use_ssl`: true or a dict of ssl_* keys. */
  useSsl?: unknown;
  useSslSetting?: string;
  /** Celery's result backend refuses a TLS dict next to a `redis://` URL; kombu's broker turns TLS on. */
  sslDictNeedsRediss?: boolean;
  /** false: a sentinel URL without master_name is accepted (a layer may set master_name elsewhere). */
  requireMasterName?: boolean;
  /** `broker_failover_strategy`, for a list of URLs: "round-robin" (the default) or "shuffle". */
  failoverStrategy?: unknown;
  failoverStrategySetting?: string;
}
