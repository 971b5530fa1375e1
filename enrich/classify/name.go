package classify

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// surnames are the common single-character Chinese surnames: together they
// cover most of the population of the mainland. A few common surnames that
// also begin many ordinary words (文, 安, 成, 全…) are left out: a name
// field holding 安全帽 is more likely a product than a person.
const surnames = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛闫阎段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔汤施牛樊葛邢易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿兰焦俞左柳祝符舒阮柯纪梅童凌毕单季裴霍涂苗谷盛曲翁冉骆蓝游辛靳管柴蒙鲍喻祁蒲房滕屈饶解牟艾尤阳穆农司卓古吉缪简项芦麦褚娄窦戚岑费卜冷晏席卫柏宗瞿桂佟臧闵苟邬边卞姬师仇栾隋刁荣巫寇桑郎甄丛仲虞敖巩佘池查麻苑迟邝"

// compoundSurnames are the two-character surnames still in use.
var compoundSurnames = []string{
	"欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙",
	"宇文", "司徒", "夏侯", "令狐", "独孤", "端木", "南宫", "西门", "申屠", "轩辕", "百里", "呼延",
}

// chineseSurname returns the surname a Chinese name starts with, if it is
// a common one.
func chineseSurname(name string) (string, bool) {
	for _, s := range compoundSurnames {
		if strings.HasPrefix(name, s) {
			return s, true
		}
	}
	r, size := utf8.DecodeRuneInString(name)
	if size > 0 && strings.ContainsRune(surnames, r) {
		return name[:size], true
	}
	return "", false
}

func isHan(r rune) bool { return unicode.Is(unicode.Han, r) }

// chineseName reports whether s is a Chinese personal name: two to four
// Hanzi starting with a common surname, four only after a compound surname
// (欧阳娜娜): four Hanzi after a single-character surname are far more often
// a phrase (黄金套餐) than a name. minority reports the looser shape of
// transliterated names, Hanzi runs joined by a middle dot (阿卜杜·热合曼).
func chineseName(s string) (name, minority bool) {
	n := utf8.RuneCountInString(s)
	if n >= 2 && n <= 4 {
		for _, r := range s {
			if !isHan(r) {
				return false, false
			}
		}
		sur, ok := chineseSurname(s)
		return ok && (n < 4 || utf8.RuneCountInString(sur) == 2), false
	}
	if n >= 4 && n <= 16 && strings.ContainsAny(s, "·•") {
		for _, r := range s {
			if !isHan(r) && r != '·' && r != '•' {
				return false, false
			}
		}
		return false, true
	}
	return false, false
}

// latinName reports whether s reads as a personal name in Latin script:
// two to four words of letters, each starting with a capital ("Wei Zhang",
// "Mary-Jane O'Neil", "ZHANG Wei").
func latinName(s string) bool {
	words := strings.Fields(s)
	if len(words) < 2 || len(words) > 4 || len(s) > 64 {
		return false
	}
	for _, w := range words {
		w = strings.TrimSuffix(w, ".")
		if w == "" {
			return false
		}
		first, _ := utf8.DecodeRuneInString(w)
		if !unicode.IsUpper(first) || !unicode.In(first, unicode.Latin) {
			return false
		}
		for _, r := range w {
			if !unicode.In(r, unicode.Latin) && r != '-' && r != '\'' && r != '’' {
				return false
			}
		}
	}
	return true
}

// nameLike reports the weaker shape a name field's value may have: one word
// of letters, or Hanzi, without digits.
func nameLike(s string) bool {
	if s == "" || utf8.RuneCountInString(s) > 32 {
		return false
	}
	letters := 0
	for _, r := range s {
		switch {
		case unicode.IsLetter(r):
			letters++
		case r == ' ' || r == '-' || r == '.' || r == '\'' || r == '·':
		default:
			return false
		}
	}
	return letters >= 2
}

// provinceNames are the province-level divisions, as an address starts
// with them, longest form first where one name starts another.
var provinceNames = []string{
	"北京市", "天津市", "上海市", "重庆市", "河北省", "山西省", "辽宁省", "吉林省", "黑龙江省",
	"江苏省", "浙江省", "安徽省", "福建省", "江西省", "山东省", "河南省", "湖北省", "湖南省",
	"广东省", "海南省", "四川省", "贵州省", "云南省", "陕西省", "甘肃省", "青海省", "台湾省",
	"内蒙古自治区", "广西壮族自治区", "西藏自治区", "宁夏回族自治区", "新疆维吾尔自治区",
	"香港特别行政区", "澳门特别行政区",
	"北京", "天津", "上海", "重庆", "河北", "山西", "辽宁", "吉林", "黑龙江", "江苏", "浙江",
	"安徽", "福建", "江西", "山东", "河南", "湖北", "湖南", "广东", "海南", "四川", "贵州",
	"云南", "陕西", "甘肃", "青海", "台湾", "内蒙古", "广西", "西藏", "宁夏", "新疆", "香港", "澳门",
}

// province returns the province-level division an address starts with.
func province(addr string) (string, bool) {
	for _, p := range provinceNames {
		if strings.HasPrefix(addr, p) {
			return p, true
		}
	}
	return "", false
}

// addressParts are the words of a Chinese postal address below the
// province: divisions, streets, numbers, buildings and rooms.
var addressParts = []string{"市", "区", "县", "镇", "乡", "村", "路", "街", "道", "巷", "弄", "号", "栋", "幢", "楼", "单元", "室", "小区", "大厦", "胡同"}

// streetWords are the words of a street address in English.
var streetWords = map[string]bool{
	"street": true, "st": true, "road": true, "rd": true, "avenue": true, "ave": true,
	"lane": true, "ln": true, "drive": true, "dr": true, "boulevard": true, "blvd": true,
	"way": true, "court": true, "ct": true, "place": true, "pl": true, "square": true,
	"sq": true, "highway": true, "hwy": true, "terrace": true, "suite": true, "apt": true,
	"floor": true, "building": true, "strasse": true, "straße": true, "rue": true, "calle": true,
}

// addressShape grades how much s looks like a postal address: 2 for a
// Chinese address with a division and a street or number (上海市徐汇区
// 人民路88号) or a Latin one with a number and a street word, 1 for text
// with some of that, 0 otherwise.
func addressShape(s string) int {
	if utf8.RuneCountInString(s) < 4 {
		return 0
	}
	parts := 0
	for _, p := range addressParts {
		if strings.Contains(s, p) {
			parts++
		}
	}
	_, prov := province(s)
	switch {
	case parts >= 3 || prov && parts >= 2:
		return 2
	case parts >= 1 && hasHan(s):
		return 1
	}
	digit, street := false, false
	for _, w := range strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return r == ' ' || r == ',' || r == '.' || r == '\n'
	}) {
		if streetWords[w] {
			street = true
		}
		if w != "" && w[0] >= '0' && w[0] <= '9' {
			digit = true
		}
	}
	switch {
	case digit && street:
		return 2
	case digit || street:
		return 1
	}
	return 0
}

func hasHan(s string) bool {
	for _, r := range s {
		if isHan(r) {
			return true
		}
	}
	return false
}
