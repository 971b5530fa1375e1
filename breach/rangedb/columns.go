package rangedb

import (
	"strings"

	"github.com/ajar-scan/ajar/breach"
)

// defaultColumns are the header names read as each kind of identifier when
// no column is named, compared without case: English, Chinese, and the
// pinyin initials that Chinese systems use as field names (sjhm: shouji
// haoma, sfzh: shenfenzheng hao).
var defaultColumns = map[breach.Kind][]string{
	breach.KindPhone: {"phone", "mobile", "mobile_phone", "mobilephone", "phone_number", "phonenumber", "cellphone",
		"tel", "telephone", "手机", "手机号", "手机号码", "电话", "电话号码", "联系电话", "联系方式", "sjhm", "sjh", "lxdh", "dh"},
	breach.KindID: {"id_number", "idnumber", "id_no", "idno", "id_card", "idcard", "id_card_no", "sfzh", "sfzhm", "sfz",
		"身份证", "身份证号", "身份证号码", "公民身份号码", "证件号", "证件号码", "zjhm"},
	breach.KindEmail: {"email", "e-mail", "e_mail", "mail", "email_address", "邮箱", "电子邮箱", "电子邮件", "邮件", "yx"},
}

// classColumns are header names that reveal other data classes of a leak.
var classColumns = map[string][]string{
	"person_name":     {"name", "full_name", "fullname", "姓名", "名字", "xm"},
	"address":         {"address", "addr", "home_address", "地址", "住址", "家庭住址", "户籍地址", "现住址", "dz"},
	"criminal_record": {"case", "charge", "offence", "案由", "案件", "罪名", "违法事实"},
	"medical_record":  {"diagnosis", "诊断", "病历", "病情"},
}

// findColumn returns the header column that names kind k, "" when none does.
func findColumn(header []string, names []string) string {
	for _, n := range names {
		for _, h := range header {
			if strings.EqualFold(strings.TrimSpace(h), n) {
				return h
			}
		}
	}
	return ""
}

// headerClasses returns the non-identifier data classes the header reveals.
func headerClasses(header []string) []string {
	var cs []string
	for _, c := range []string{"person_name", "address", "criminal_record", "medical_record"} {
		if findColumn(header, classColumns[c]) != "" {
			cs = append(cs, c)
		}
	}
	return cs
}
