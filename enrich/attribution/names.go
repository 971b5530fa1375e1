package attribution

import "strings"

// kind is what a host name says about the machine behind it.
type kind int

const (
	// anyHost: the provider's domain, nothing more.
	anyHost kind = iota
	// managed: the provider's managed service (a hosted Elasticsearch, an
	// RDS instance) answers under this name.
	managed
	// compute: a customer's virtual machine.
	compute
)

// suffix is one entry of the table of provider domains.
type suffix struct {
	domain   string
	provider string
	kind     kind
}

// suffixes maps the domains of certificate names and reverse-DNS names to
// providers. The longest matching domain wins, so a managed-service domain
// is listed beside its provider's general one. Keep it sorted by provider.
var suffixes = []suffix{
	{"aliyuncs.com", "alibaba", anyHost},
	{"aliyun.com", "alibaba", anyHost},
	{"alibabacloud.com", "alibaba", anyHost},
	{"elasticsearch.aliyuncs.com", "alibaba", managed}, // es-cn-….elasticsearch.aliyuncs.com, Kibana included
	{"rds.aliyuncs.com", "alibaba", managed},           // rm-….mysql.rds, pgm-….pg.rds, r-….redis.rds, dds-….mongodb.rds
	{"kvstore.aliyuncs.com", "alibaba", managed},
	{"oss.aliyuncs.com", "alibaba", managed},

	{"amazonaws.com", "aws", anyHost},
	{"amazonaws.com.cn", "aws", anyHost},
	{"compute.amazonaws.com", "aws", compute}, // ec2-….compute.amazonaws.com
	{"compute-1.amazonaws.com", "aws", compute},
	{"compute.amazonaws.com.cn", "aws", compute},
	{"rds.amazonaws.com", "aws", managed},
	{"es.amazonaws.com", "aws", managed},
	{"aos.amazonaws.com", "aws", managed},
	{"cache.amazonaws.com", "aws", managed},
	{"docdb.amazonaws.com", "aws", managed},
	{"redshift.amazonaws.com", "aws", managed},
	{"s3.amazonaws.com", "aws", managed},

	{"myhuaweicloud.com", "huawei", anyHost},
	{"huaweicloud.com", "huawei", anyHost},

	{"bcebos.com", "baidu", managed},
	{"baidubce.com", "baidu", anyHost},

	{"digitalocean.com", "digitalocean", anyHost},
	{"db.ondigitalocean.com", "digitalocean", managed},

	{"found.io", "elastic", managed},
	{"elastic-cloud.com", "elastic", managed},
	{"cloud.es.io", "elastic", managed},

	{"googleusercontent.com", "google", compute}, // ….bc.googleusercontent.com
	{"cloudsql.googleapis.com", "google", managed},

	{"hetzner.com", "hetzner", anyHost},
	{"hetzner.de", "hetzner", anyHost},
	{"hetzner.cloud", "hetzner", anyHost},
	{"your-server.de", "hetzner", compute}, // static.….clients.your-server.de

	{"linode.com", "linode", anyHost},
	{"members.linode.com", "linode", compute},
	{"linodeusercontent.com", "linode", compute},

	{"azure.com", "azure", anyHost},
	{"windows.net", "azure", anyHost},
	{"cloudapp.net", "azure", compute},
	{"cloudapp.azure.com", "azure", compute},
	{"azurewebsites.net", "azure", managed},
	{"database.windows.net", "azure", managed},
	{"documents.azure.com", "azure", managed},
	{"redis.cache.windows.net", "azure", managed},
	{"search.windows.net", "azure", managed},

	{"oraclecloud.com", "oracle", anyHost},

	{"ovh.net", "ovh", anyHost},
	{"ovh.ca", "ovh", anyHost},
	{"ovh.us", "ovh", anyHost},
	{"vps.ovh.net", "ovh", compute},
	{"vps.ovh.ca", "ovh", compute},

	{"myqcloud.com", "tencent", anyHost},
	{"tencentcs.com", "tencent", anyHost},
	{"qcloud.com", "tencent", anyHost},
	{"tencentcloudapi.com", "tencent", anyHost},
	{"tencentcdb.com", "tencent", managed}, // ….sql.tencentcdb.com
	{"tencentelasticsearch.com", "tencent", managed},
	{"cos.myqcloud.com", "tencent", managed},

	{"vultr.com", "vultr", anyHost},
	{"vultrusercontent.com", "vultr", compute},
	{"choopa.net", "vultr", compute},
}

// matchName returns the entry of the longest domain that name is, or is
// under. name may end in a dot and start with a wildcard label.
func matchName(name string) (suffix, bool) {
	name = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(name)), ".")
	name = strings.TrimPrefix(name, "*.")
	var best suffix
	found := false
	for _, s := range suffixes {
		if (name == s.domain || strings.HasSuffix(name, "."+s.domain)) && len(s.domain) > len(best.domain) {
			best, found = s, true
		}
	}
	return best, found
}

// serverHeaders are HTTP Server headers that only a provider's managed
// storage sends.
var serverHeaders = map[string]string{
	"aliyunoss":   "alibaba",
	"amazons3":    "aws",
	"tencent-cos": "tencent",
	"bws":         "baidu", // Baidu Object Storage
	"obs":         "huawei",
}

// certNames are the names a certificate answers to: the subject's common
// name and the subject alternative names.
func certNames(subject string, names []string) []string {
	var out []string
	for part := range strings.SplitSeq(subject, ",") {
		if cn, ok := strings.CutPrefix(strings.TrimSpace(part), "CN="); ok && cn != "" {
			out = append(out, cn)
		}
	}
	return append(out, names...)
}
