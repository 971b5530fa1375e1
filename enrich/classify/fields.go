package classify

import (
	"slices"
	"strings"
	"unicode"
)

// Strength is how sure a field name alone makes a class.
type Strength int

// Strengths of a field-name hint.
const (
	// Weak names are common in other senses ("name" of a product, "charge"
	// of an invoice): they need a value of the right shape.
	Weak Strength = 1
	// Strong names say what the field holds ("id_number", "手机号", "sfzh").
	Strong Strength = 2
)

// Hint is a class a field name suggests.
type Hint struct {
	Class    string
	Strength Strength
}

// hints is what a field name says: the classes it suggests, and whether it
// names something that is not personal data (a time, an order number, a
// version), which makes weak value-only findings unlikely.
type hints struct {
	classes  map[string]Strength
	negative bool
	// birth: the field holds a date of birth. No class of its own, but
	// masked to the year.
	birth bool
}

func (h hints) strength(class string) Strength { return h.classes[class] }

func (h hints) any() bool { return len(h.classes) > 0 }

// nameWords maps a whole field name, lower-cased with separators removed,
// or one of its words, to the class it suggests. Pinyin abbreviations are
// those of Chinese government and business schemas (sfzh = 身份证号,
// sjhm = 手机号码, lxdh = 联系电话, xm = 姓名, dz = 地址).
var nameWords = map[string]Hint{
	// phone
	"phone": {Phone, Strong}, "mobile": {Phone, Strong}, "tel": {Phone, Strong},
	"telephone": {Phone, Strong}, "cellphone": {Phone, Strong}, "cell": {Phone, Weak},
	"msisdn": {Phone, Strong}, "phoneno": {Phone, Strong}, "phonenumber": {Phone, Strong},
	"mobileno": {Phone, Strong}, "mobilephone": {Phone, Strong}, "telno": {Phone, Strong},
	"sjhm": {Phone, Strong}, "sjh": {Phone, Strong}, "lxdh": {Phone, Strong}, "dh": {Phone, Weak},
	"shouji": {Phone, Strong}, "dianhua": {Phone, Strong}, "lxfs": {Phone, Weak},
	"whatsapp": {Phone, Weak}, "fax": {Phone, Weak},
	// PRC resident ID
	"idcard": {CNResidentID, Strong}, "idcardno": {CNResidentID, Strong}, "idnumber": {CNResidentID, Strong},
	"idno": {CNResidentID, Strong}, "sfz": {CNResidentID, Strong}, "sfzh": {CNResidentID, Strong},
	"sfzhm": {CNResidentID, Strong}, "shenfenzheng": {CNResidentID, Strong}, "identitycard": {CNResidentID, Strong},
	"residentid": {CNResidentID, Strong}, "citizenid": {CNResidentID, Weak}, "zjhm": {CNResidentID, Weak},
	"certno": {CNResidentID, Weak}, "identity": {CNResidentID, Weak}, "gmsfhm": {CNResidentID, Strong},
	// other national IDs
	"ssn": {NationalID, Strong}, "socialsecurity": {NationalID, Strong}, "nationalid": {NationalID, Strong},
	"nino": {NationalID, Strong}, "nric": {NationalID, Strong}, "aadhaar": {NationalID, Strong},
	"taxid": {NationalID, Weak}, "nin": {NationalID, Weak},
	// passport
	"passport": {Passport, Strong}, "passportno": {Passport, Strong}, "passportnumber": {Passport, Strong},
	"hzhm": {Passport, Strong}, "huzhao": {Passport, Strong},
	// person name
	"name": {PersonName, Weak}, "fullname": {PersonName, Strong}, "realname": {PersonName, Strong},
	"xm": {PersonName, Strong}, "xingming": {PersonName, Strong}, "firstname": {PersonName, Strong},
	"lastname": {PersonName, Strong}, "surname": {PersonName, Strong}, "givenname": {PersonName, Strong},
	"customername": {PersonName, Strong}, "contactname": {PersonName, Strong}, "username": {PersonName, Weak},
	"customer": {PersonName, Weak}, "owner": {PersonName, Weak}, "person": {PersonName, Weak},
	"contact": {PersonName, Weak}, "receiver": {PersonName, Weak}, "consignee": {PersonName, Weak},
	"shrxm": {PersonName, Strong}, "lxr": {PersonName, Weak},
	// address
	"address": {Address, Strong}, "addr": {Address, Strong}, "dz": {Address, Strong}, "dizhi": {Address, Strong},
	"zhuzhi": {Address, Strong}, "zz": {Address, Weak}, "street": {Address, Weak}, "residence": {Address, Weak},
	"homeaddress": {Address, Strong}, "hjdz": {Address, Strong}, "jzdz": {Address, Strong}, "xzz": {Address, Strong},
	// e-mail
	"email": {Email, Strong}, "mail": {Email, Weak}, "emailaddress": {Email, Strong}, "yx": {Email, Weak},
	"youxiang": {Email, Strong},
	// criminal or police records
	"case": {CriminalRecord, Weak}, "caseno": {CriminalRecord, Strong}, "casenumber": {CriminalRecord, Strong},
	"ajbh": {CriminalRecord, Strong}, "ajmc": {CriminalRecord, Strong}, "offence": {CriminalRecord, Strong},
	"offense": {CriminalRecord, Strong}, "crime": {CriminalRecord, Strong}, "criminal": {CriminalRecord, Strong},
	"conviction": {CriminalRecord, Strong}, "convicted": {CriminalRecord, Strong}, "police": {CriminalRecord, Strong},
	"arrest": {CriminalRecord, Strong}, "suspect": {CriminalRecord, Strong}, "warrant": {CriminalRecord, Strong},
	"verdict": {CriminalRecord, Strong}, "zm": {CriminalRecord, Weak}, "charge": {CriminalRecord, Weak},
	"sentence": {CriminalRecord, Weak}, "prison": {CriminalRecord, Strong}, "jail": {CriminalRecord, Strong},
	"ay": {CriminalRecord, Weak}, "wfss": {CriminalRecord, Strong},
	// medical records
	"diagnosis": {MedicalRecord, Strong}, "diagnose": {MedicalRecord, Strong}, "medical": {MedicalRecord, Strong},
	"patient": {MedicalRecord, Strong}, "disease": {MedicalRecord, Strong}, "illness": {MedicalRecord, Strong},
	"symptom": {MedicalRecord, Strong}, "symptoms": {MedicalRecord, Strong}, "prescription": {MedicalRecord, Strong},
	"icd": {MedicalRecord, Strong}, "icd10": {MedicalRecord, Strong}, "allergy": {MedicalRecord, Strong},
	"allergies": {MedicalRecord, Strong}, "bloodtype": {MedicalRecord, Strong}, "medication": {MedicalRecord, Strong},
	"treatment": {MedicalRecord, Weak}, "hospital": {MedicalRecord, Weak}, "health": {MedicalRecord, Weak},
	"zd": {MedicalRecord, Weak}, "bingli": {MedicalRecord, Strong}, "jbmc": {MedicalRecord, Strong},
	// payment cards and bank accounts
	"cardno": {PaymentCard, Strong}, "cardnumber": {PaymentCard, Strong}, "pan": {PaymentCard, Weak},
	"creditcard": {PaymentCard, Strong}, "bankcard": {PaymentCard, Strong}, "ccnumber": {PaymentCard, Strong},
	"ccnum": {PaymentCard, Strong}, "yhkh": {PaymentCard, Strong}, "card": {PaymentCard, Weak},
	"iban": {IBAN, Strong}, "bankaccount": {IBAN, Weak},
	// credentials
	"password": {Credential, Strong}, "passwd": {Credential, Strong}, "pwd": {Credential, Strong},
	"pass": {Credential, Weak}, "passcode": {Credential, Strong}, "passwordhash": {Credential, Strong},
	"pwdhash": {Credential, Strong}, "hash": {Credential, Weak}, "mm": {Credential, Weak},
	"mima": {Credential, Strong}, "pin": {Credential, Weak}, "credentials": {Credential, Strong},
	// keys and tokens
	"apikey": {SecretKey, Strong}, "accesskey": {SecretKey, Strong}, "secretkey": {SecretKey, Strong},
	"secret": {SecretKey, Strong}, "token": {SecretKey, Weak}, "accesstoken": {SecretKey, Strong},
	"authtoken": {SecretKey, Strong}, "privatekey": {SecretKey, Strong}, "clientsecret": {SecretKey, Strong},
	"refreshtoken": {SecretKey, Strong}, "secretaccesskey": {SecretKey, Strong},
	// network addresses
	"ip": {IPAddress, Strong}, "ipaddr": {IPAddress, Strong}, "ipaddress": {IPAddress, Strong},
	"clientip": {IPAddress, Strong}, "remoteaddr": {IPAddress, Strong}, "remoteip": {IPAddress, Strong},
	"srcip": {IPAddress, Strong}, "dstip": {IPAddress, Strong}, "ipv4": {IPAddress, Strong},
	"ipv6": {IPAddress, Strong}, "loginip": {IPAddress, Strong},
	// locations
	"lat": {GeoLocation, Strong}, "lng": {GeoLocation, Strong}, "lon": {GeoLocation, Strong},
	"latitude": {GeoLocation, Strong}, "longitude": {GeoLocation, Strong}, "geo": {GeoLocation, Weak},
	"location": {GeoLocation, Weak}, "coordinates": {GeoLocation, Strong}, "coords": {GeoLocation, Strong},
	"gps": {GeoLocation, Strong}, "geopoint": {GeoLocation, Strong}, "jd": {GeoLocation, Weak}, "wd": {GeoLocation, Weak},
}

// compound are words that change the meaning of the word they precede or
// follow: an "ip address" is not a postal address, an "email address" is an
// e-mail, a "card holder name" is a name.
var compound = map[string]Hint{
	"ipaddress": {IPAddress, Strong}, "ipaddr": {IPAddress, Strong}, "macaddress": {"", 0},
	"emailaddress": {Email, Strong}, "mailaddress": {Email, Strong}, "walletaddress": {"", 0},
	"contractaddress": {"", 0}, "serveraddress": {"", 0}, "hostaddress": {"", 0},
	"remoteaddress": {IPAddress, Strong}, "localaddress": {"", 0}, "bindaddress": {"", 0},
	"listenaddress": {"", 0}, "productname": {"", 0}, "filename": {"", 0}, "hostname": {"", 0},
	"tablename": {"", 0}, "dbname": {"", 0}, "itemname": {"", 0}, "goodsname": {"", 0},
	"servicename": {"", 0}, "appname": {"", 0}, "keyname": {"", 0}, "typename": {"", 0},
	"cardholder": {PersonName, Strong}, "cardholdername": {PersonName, Strong},
	"hashtag": {"", 0}, "filehash": {"", 0}, "commithash": {"", 0}, "blockhash": {"", 0},
	"txhash": {"", 0}, "pageurl": {"", 0}, "passportname": {PersonName, Strong},
	"phonemodel": {"", 0}, "mobilemodel": {"", 0}, "caseid": {"", 0}, "testcase": {"", 0},
	"usecase": {"", 0}, "lowercase": {"", 0}, "uppercase": {"", 0}, "casesensitive": {"", 0},
	"cardtype": {"", 0}, "tokentype": {"", 0}, "tokenexpiry": {"", 0}, "passcount": {"", 0},
}

// negativeWords name things that are not personal data.
var negativeWords = map[string]bool{
	"time": true, "ts": true, "timestamp": true, "date": true, "created": true, "updated": true,
	"modified": true, "uuid": true, "guid": true, "version": true, "ver": true, "order": true,
	"orderno": true, "orderid": true, "trade": true, "tradeno": true, "txn": true, "transaction": true,
	"amount": true, "price": true, "total": true, "qty": true, "quantity": true, "count": true,
	"size": true, "bytes": true, "length": true, "seq": true, "sequence": true, "serial": true,
	"sku": true, "checksum": true, "crc": true, "ean": true, "isbn": true, "barcode": true,
	"id": true, "pk": true, "key": true, "code": true, "no": true, "num": true, "number": true,
	"status": true, "type": true, "score": true, "balance": true, "expires": true, "ttl": true,
	"createdat": true, "updatedat": true, "ctime": true, "mtime": true, "build": true,
}

// birthWords name a date of birth.
var birthWords = map[string]bool{"birth": true, "birthday": true, "birthdate": true, "dob": true, "csrq": true, "born": true}

// hanziWords are Chinese field-name words: a field whose name contains one
// suggests its class.
var hanziWords = []struct {
	word string
	hint Hint
}{
	{"手机", Hint{Phone, Strong}}, {"电话", Hint{Phone, Strong}}, {"联系方式", Hint{Phone, Weak}},
	{"身份证", Hint{CNResidentID, Strong}}, {"证件号", Hint{CNResidentID, Weak}}, {"公民身份号码", Hint{CNResidentID, Strong}},
	{"护照", Hint{Passport, Strong}},
	{"姓名", Hint{PersonName, Strong}}, {"名字", Hint{PersonName, Weak}}, {"联系人", Hint{PersonName, Weak}},
	{"收货人", Hint{PersonName, Strong}}, {"客户", Hint{PersonName, Weak}},
	{"地址", Hint{Address, Strong}}, {"住址", Hint{Address, Strong}}, {"户籍", Hint{Address, Weak}},
	{"居住地", Hint{Address, Strong}},
	{"邮箱", Hint{Email, Strong}}, {"电子邮件", Hint{Email, Strong}},
	{"案件", Hint{CriminalRecord, Strong}}, {"罪名", Hint{CriminalRecord, Strong}}, {"案由", Hint{CriminalRecord, Strong}},
	{"犯罪", Hint{CriminalRecord, Strong}}, {"违法", Hint{CriminalRecord, Strong}}, {"刑事", Hint{CriminalRecord, Strong}},
	{"前科", Hint{CriminalRecord, Strong}}, {"嫌疑", Hint{CriminalRecord, Strong}}, {"判决", Hint{CriminalRecord, Strong}},
	{"警", Hint{CriminalRecord, Weak}},
	{"诊断", Hint{MedicalRecord, Strong}}, {"病历", Hint{MedicalRecord, Strong}}, {"病史", Hint{MedicalRecord, Strong}},
	{"疾病", Hint{MedicalRecord, Strong}}, {"症状", Hint{MedicalRecord, Strong}}, {"处方", Hint{MedicalRecord, Strong}},
	{"就诊", Hint{MedicalRecord, Strong}}, {"过敏", Hint{MedicalRecord, Strong}}, {"血型", Hint{MedicalRecord, Strong}},
	{"患者", Hint{MedicalRecord, Strong}}, {"医院", Hint{MedicalRecord, Weak}},
	{"卡号", Hint{PaymentCard, Strong}}, {"银行卡", Hint{PaymentCard, Strong}}, {"信用卡", Hint{PaymentCard, Strong}},
	{"密码", Hint{Credential, Strong}}, {"口令", Hint{Credential, Strong}},
	{"密钥", Hint{SecretKey, Strong}}, {"秘钥", Hint{SecretKey, Strong}}, {"令牌", Hint{SecretKey, Strong}},
	{"经度", Hint{GeoLocation, Strong}}, {"纬度", Hint{GeoLocation, Strong}}, {"坐标", Hint{GeoLocation, Strong}},
	{"位置", Hint{GeoLocation, Weak}},
}

// fieldHints reads what a field name suggests. A path ("contact.phone",
// "value.mobile") is read by its last segment, or the one before when the
// last says nothing ("phone.number").
func fieldHints(name string) hints {
	segs := strings.FieldsFunc(name, func(r rune) bool { return r == '.' || r == '/' || r == '[' || r == ']' })
	if len(segs) == 0 {
		return hints{}
	}
	last := segmentHints(segs[len(segs)-1])
	if !last.any() && len(segs) > 1 {
		if h := segmentHints(segs[len(segs)-2]); h.any() {
			return h
		}
	}
	return last
}

// FieldHints returns the classes a field name suggests, strongest first.
func FieldHints(name string) []Hint {
	h := fieldHints(name)
	out := make([]Hint, 0, len(h.classes))
	for c, s := range h.classes {
		out = append(out, Hint{c, s})
	}
	sortHints(out)
	return out
}

func segmentHints(seg string) hints {
	h := hints{classes: map[string]Strength{}}
	add := func(x Hint) {
		if x.Class != "" && x.Strength > h.classes[x.Class] {
			h.classes[x.Class] = x.Strength
		}
	}
	for _, w := range hanziWords {
		if strings.Contains(seg, w.word) {
			add(w.hint)
		}
	}
	words := splitWords(seg)
	joined := strings.Join(words, "")
	h.birth = strings.Contains(seg, "出生") || strings.Contains(seg, "生日") ||
		slices.ContainsFunc(words, func(w string) bool { return birthWords[w] }) || birthWords[joined]
	if x, ok := compound[joined]; ok {
		add(x)
		if x.Class == "" {
			h.negative = true
		}
		return h
	}
	if x, ok := nameWords[joined]; ok {
		add(x)
		return h
	}
	if negativeWords[joined] {
		h.negative = true
		return h
	}
	// Adjacent word pairs first ("id"+"card", "card"+"no"), then single words.
	skip := map[int]bool{}
	for i := 0; i+1 < len(words); i++ {
		pair := words[i] + words[i+1]
		if x, ok := compound[pair]; ok {
			add(x)
			skip[i], skip[i+1] = true, true
			continue
		}
		if x, ok := nameWords[pair]; ok {
			add(x)
			skip[i], skip[i+1] = true, true
		}
	}
	neg := false
	for i, w := range words {
		if skip[i] {
			continue
		}
		if x, ok := nameWords[w]; ok {
			add(x)
		} else if negativeWords[w] {
			neg = true
		}
	}
	// "order_id" is an order; "phone_id" still hints a phone, weakly.
	if neg {
		h.negative = true
		for c, s := range h.classes {
			if s == Weak {
				delete(h.classes, c)
			}
		}
	}
	return h
}

// splitWords lower-cases an ASCII identifier and splits it into words at
// separators, case changes and letter-digit boundaries: "idCardNo" gives
// id, card, no; "card_no2" gives card, no, 2. Non-ASCII runes are dropped.
func splitWords(s string) []string {
	var words []string
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			words = append(words, string(cur))
			cur = cur[:0]
		}
	}
	var prev rune
	for _, r := range s {
		switch {
		case r >= 'A' && r <= 'Z':
			if prev >= 'a' && prev <= 'z' || prev >= '0' && prev <= '9' {
				flush()
			}
			cur = append(cur, unicode.ToLower(r))
		case r >= 'a' && r <= 'z':
			if prev >= '0' && prev <= '9' {
				flush()
			}
			cur = append(cur, r)
		case r >= '0' && r <= '9':
			if prev >= 'a' && prev <= 'z' || prev >= 'A' && prev <= 'Z' {
				// Keep "icd10", "ipv4", "md5" whole.
				if len(cur) > 0 && (string(cur) == "icd" || string(cur) == "ipv") {
					cur = append(cur, r)
					prev = r
					continue
				}
				flush()
			}
			cur = append(cur, r)
		default:
			flush()
		}
		prev = r
	}
	flush()
	return words
}
